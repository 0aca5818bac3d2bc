"""Inbound voice scenarios, driven the way Twilio drives them (signed posts following TwiML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.models import ConsentMode, Practice
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator, new_sid
from ivr.models import Call, CallEvent, CallStatus, ConsentRecord, MenuChoice
from recordings.models import Recording
from routing.models import CallbackReason, CallbackTask, Presence, PresenceState
from tests.conftest import at_local
from tests.factories import make_coordinator, make_practice

PATIENT = "+13105550142"
LA = "America/Los_Angeles"


def call_row(session: Session, call_sid: str) -> Call:
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).one()


def consent_of(session: Session, call: Call) -> ConsentRecord:
    return session.scalars(select(ConsentRecord).where(ConsentRecord.call_id == call.id)).one()


def dial_element(body: str) -> ET.Element:
    dial = ET.fromstring(body).find("Dial")
    assert dial is not None, body
    return dial


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")


def test_consent_yes_by_key_records_the_call_and_rings_the_coordinator(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    ava = make_coordinator(session, practice, "ava")
    caller = Caller(
        answers=[Answer(digits="1"), Answer(digits="1")], dials=[DialPlan("completed", 42)]
    )

    sim = twilio.call(PATIENT, practice.phone_number, caller)

    assert sim.errors == []
    assert sim.heard[0] == "Thank you for calling Glow Aesthetics."
    assert "press 1 or say yes" in sim.said
    assert "This call will be recorded." in sim.said
    assert sim.dialed == [{"noun": "Client", "target": "ava", "status": "completed"}]
    assert sim.whispers == ["Glow Aesthetics, new consultation."]
    dial = dial_element(sim.last("/twilio/voice/menu").body)
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback", "").endswith("/twilio/recordings/status?source=call")
    assert dial.get("timeout") == "20"

    call = call_row(session, sim.call_sid)
    consent = consent_of(session, call)
    assert (consent.granted, consent.method, consent.digits) == (True, "dtmf", "1")
    assert consent.phone == PATIENT and consent.wording and "record" in consent.wording
    assert call.recording_allowed is True
    assert call.menu_choice is MenuChoice.CONSULTATION
    assert call.answered_by_id == ava.id and call.answered_at is not None
    assert call.status is CallStatus.COMPLETED
    recording = session.scalars(select(Recording).where(Recording.call_id == call.id)).one()
    assert recording.channels == 2
    presence = session.get_one(Presence, ava.id)
    # After the call: wrap-up, which ends by itself after the practice's after-call time.
    assert presence.state is PresenceState.WRAP_UP and presence.call_sid is None
    assert presence.wrap_up_until == presence.changed_at + timedelta(seconds=60)
    kinds = [e.kind for e in session.scalars(select(CallEvent).where(CallEvent.call_id == call.id))]
    assert kinds[:5] == ["incoming", "consent", "menu", "assigned", "ring"]
    assert "recording" in kinds and "status" in kinds


def test_consent_yes_by_speech_needs_confidence(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice)
    make_coordinator(session, practice)  # the first is in wrap-up when the second call comes
    sure = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(
            answers=[Answer(speech="Yes.", confidence=0.91), Answer(digits="2")],
            dials=[DialPlan("completed")],
        ),
    )
    unsure = twilio.call(
        "+13105550143",
        practice.phone_number,
        Caller(
            answers=[Answer(speech="yes", confidence=0.31), Answer(digits="2")],
            dials=[DialPlan("completed")],
        ),
    )
    granted = consent_of(session, call_row(session, sure.call_sid))
    assert (granted.granted, granted.method, granted.speech) == (True, "speech", "Yes.")
    assert granted.confidence == pytest.approx(0.91)
    refused = consent_of(session, call_row(session, unsure.call_sid))
    assert (refused.granted, refused.method, refused.confidence) == (False, "speech", 0.31)
    assert dial_element(unsure.last("/twilio/voice/menu").body).get("record") is None
    assert call_row(session, sure.call_sid).menu_choice is MenuChoice.EXISTING


def test_consent_no_means_no_recording_anywhere(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(answers=[Answer(digits="2"), Answer(digits="3")], dials=[DialPlan("completed")]),
    )
    assert "This call will not be recorded." in sim.said
    dial = dial_element(sim.last("/twilio/voice/menu").body)
    assert dial.get("record") is None and dial.get("recordingStatusCallback") is None
    assert sim.recordings == []
    call = call_row(session, sim.call_sid)
    consent = consent_of(session, call)
    assert (consent.granted, consent.method, consent.digits) == (False, "dtmf", "2")
    assert call.recording_allowed is False
    assert call.menu_choice is MenuChoice.OTHER


def test_spoken_no_and_other_keys_refuse(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice)
    for answer in (
        Answer(speech="no thank you", confidence=0.95),
        Answer(digits="7"),
        Answer(speech="yes but not today", confidence=0.95),
    ):
        sim = twilio.call(PATIENT, practice.phone_number, Caller(answers=[answer]))
        assert consent_of(session, call_row(session, sim.call_sid)).granted is False


def test_silence_is_no_and_the_menu_defaults_to_anything_else(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice, "ava")
    sim = twilio.call(PATIENT, practice.phone_number, Caller(dials=[DialPlan("completed")]))
    call = call_row(session, sim.call_sid)
    consent = consent_of(session, call)
    assert (consent.granted, consent.method, consent.digits, consent.speech) == (
        False,
        "silence",
        None,
        None,
    )
    assert call.menu_choice is MenuChoice.OTHER
    assert sim.dialed[0]["target"] == "ava"
    assert sim.whispers == ["Glow Aesthetics, general question."]


def test_one_party_practice_notifies_and_records(session: Session, twilio: TwilioSimulator) -> None:
    practice = make_practice(session, consent_mode=ConsentMode.ONE_PARTY.value)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="2")], dials=[DialPlan()])
    )
    assert "This call may be recorded for quality and training." in sim.said
    assert "press 1 or say yes" not in sim.said
    consent = consent_of(session, call_row(session, sim.call_sid))
    assert (consent.granted, consent.method) == (True, "one_party")
    assert dial_element(sim.last("/twilio/voice/menu").body).get("record") == (
        "record-from-answer-dual"
    )


def test_after_hours_gives_the_hours_takes_a_voicemail_and_books_a_morning_callback(
    session: Session, twilio: TwilioSimulator
) -> None:
    practice = make_practice(
        session, name="Night Clinic", timezone=LA, hours="mon-fri 09:00-18:00, sat 10:00-14:00"
    )
    make_coordinator(session, practice)
    clock.pin(at_local(LA, 2026, 11, 20, 23, 5))  # Friday 11:05 PM in Los Angeles
    sim = twilio.call(PATIENT, practice.phone_number, Caller(voicemail_seconds=[14]))

    assert "Our office is closed right now." in sim.said
    assert "Monday to Friday, 9 AM to 6 PM; Saturday, 10 AM to 2 PM" in sim.said
    assert "press 1 or say yes" not in sim.said  # no consent question, no coordinator rung
    assert sim.dialed == []
    assert "will call you back as soon as possible" in sim.said
    record = ET.fromstring(sim.requests[0].body).find("Record")
    assert record is not None and record.get("transcribe") is None  # we transcribe ourselves
    call = call_row(session, sim.call_sid)
    assert call.after_hours is True
    task = session.scalars(select(CallbackTask).where(CallbackTask.source_call_id == call.id)).one()
    assert task.reason is CallbackReason.AFTER_HOURS and task.phone == PATIENT
    assert task.due_at == at_local(LA, 2026, 11, 21, 10, 0)  # Saturday opening
    assert task.sla_deadline == task.due_at + timedelta(minutes=15)
    voicemail = session.scalars(select(Recording).where(Recording.call_id == call.id)).one()
    assert voicemail.source.value == "voicemail" and voicemail.duration_s == 14


def test_after_hours_hang_up_without_message_still_leaves_a_callback(
    session: Session, twilio: TwilioSimulator
) -> None:
    practice = make_practice(session, timezone=LA, hours="mon-fri 09:00-18:00")
    clock.pin(at_local(LA, 2026, 11, 22, 12, 0))  # Sunday noon
    sim = twilio.call(PATIENT, practice.phone_number, Caller(voicemail_seconds=[0]))
    assert "We did not receive a message. Goodbye." in sim.said
    call = call_row(session, sim.call_sid)
    task = session.scalars(select(CallbackTask).where(CallbackTask.source_call_id == call.id)).one()
    assert task.due_at == at_local(LA, 2026, 11, 23, 9, 0)


def test_unknown_number_is_told_politely_and_nothing_is_stored(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    sim = twilio.call(PATIENT, "+19995550000", send_final_status=False)
    assert sim.heard == ["We're sorry, the number you have called is not in service. Goodbye."]
    assert sim.requests[0].status == 200
    assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_forged_or_missing_signature_is_refused_and_changes_nothing(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    form = {
        "CallSid": new_sid("CA"),
        "From": PATIENT,
        "To": practice.phone_number,
        "AccountSid": twilio.account_sid,
        "CallStatus": "ringing",
    }
    status, _ = twilio.post("/twilio/voice/incoming", form, signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")
    assert status == 403
    status, _ = twilio.post("/twilio/voice/incoming", form, signature="")
    assert status == 403
    # Signed for another URL (a replay against a different endpoint) is forged too.
    from contact_center.twilio import sign

    other = sign(twilio.auth_token, twilio.url("/twilio/voice/consent"), form)
    assert twilio.post("/twilio/voice/incoming", form, signature=other)[0] == 403
    assert (
        twilio.post("/twilio/voice/status", {**form, "CallStatus": "completed"}, signature="bad")[0]
        == 403
    )
    assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_duplicate_and_reordered_status_callbacks_keep_the_latest_status(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(dials=[DialPlan()]), send_final_status=False
    )
    assert twilio.status(sim.call_sid, "completed", CallDuration="75")[0] == 200
    assert twilio.status(sim.call_sid, "completed", CallDuration="75")[0] == 200
    assert twilio.status(sim.call_sid, "ringing")[0] == 200  # late, out of order
    assert twilio.status(sim.call_sid, "in-progress")[0] == 200
    call = call_row(session, sim.call_sid)
    assert call.status is CallStatus.COMPLETED and call.duration_s == 75
    statuses = [
        e.detail["status"]
        for e in session.scalars(
            select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "status")
        )
    ]
    assert statuses == ["completed", "ringing", "in-progress"]  # each once, in arrival order
    assert twilio.status(new_sid("CA"), "completed")[0] == 200  # unknown call: ignored


def test_no_coordinator_available_means_voicemail_and_a_callback_task(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    make_coordinator(session, practice, state=PresenceState.AWAY)
    sim = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(answers=[Answer(digits="1"), Answer(digits="1")], voicemail_seconds=[20]),
    )
    assert sim.dialed == []
    assert "All of our patient coordinators are helping other patients." in sim.said
    call = call_row(session, sim.call_sid)
    task = session.scalars(select(CallbackTask).where(CallbackTask.source_call_id == call.id)).one()
    assert task.reason is CallbackReason.NO_COORDINATOR
    assert task.sla_deadline - task.due_at == timedelta(minutes=5)
    recording = session.scalars(select(Recording).where(Recording.call_id == call.id)).one()
    assert recording.source.value == "voicemail"


def test_practice_with_no_coordinators_at_all(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    sim = twilio.call(PATIENT, practice.phone_number, Caller(voicemail_seconds=[5]))
    assert sim.errors == []
    assert "leave your name" in sim.said
    assert session.scalar(select(func.count()).select_from(CallbackTask)) == 1


def test_ring_no_answer_marks_the_coordinator_away_and_tries_the_next(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    now = clock.now()
    first = make_coordinator(session, practice, "longest", idle_since=now - timedelta(hours=1))
    second = make_coordinator(session, practice, "recent", idle_since=now - timedelta(minutes=1))
    sim = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(
            answers=[Answer(digits="1"), Answer(digits="2")],
            dials=[DialPlan("no-answer", 0), DialPlan("completed", 30)],
        ),
    )
    assert [d["target"] for d in sim.dialed] == ["longest", "recent"]
    assert session.get_one(Presence, first.id).state is PresenceState.AWAY
    assert session.get_one(Presence, second.id).state is PresenceState.WRAP_UP  # after the call
    assert call_row(session, sim.call_sid).answered_by_id == second.id


def test_malformed_webhook_still_gets_valid_twiml(
    twilio: TwilioSimulator, practice: Practice
) -> None:
    for path, form in (
        ("/twilio/voice/incoming", {"From": PATIENT, "To": practice.phone_number}),
        ("/twilio/voice/incoming", {"CallSid": "nonsense", "To": practice.phone_number}),
        ("/twilio/voice/consent", {"CallSid": new_sid("CA"), "Digits": "1"}),  # unknown call
        ("/twilio/voice/menu?attempt=x", {"Digits": "1"}),
        ("/twilio/voice/dial-result", {"CallSid": new_sid("CA")}),
    ):
        status, body = twilio.post(path, form)
        assert status == 200, (path, body)
        root = ET.fromstring(body)
        assert root.tag == "Response"
        says = " ".join(s.text or "" for s in root.iter("Say"))
        assert "We're sorry" in says, (path, body)


def test_database_down_apologizes_and_offers_voicemail(
    twilio: TwilioSimulator, practice: Practice
) -> None:
    from sqlalchemy.orm import sessionmaker

    from contact_center import db

    dead = db.make_engine("postgresql+psycopg://postgres@127.0.0.1:1/test", pool_pre_ping=False)
    db.bind(sessionmaker(bind=dead))
    form = {
        "CallSid": new_sid("CA"),
        "From": PATIENT,
        "To": practice.phone_number,
        "AccountSid": twilio.account_sid,
    }
    status, body = twilio.post("/twilio/voice/incoming", form)
    assert status == 200
    assert "We're sorry, we are having trouble" in body and "<Hangup" in body
    status, body = twilio.post("/twilio/voice/consent", {**form, "Digits": "1"})
    assert status == 200 and "<Record" in body


@pytest.mark.committed
def test_a_dropped_database_connection_is_not_heard_by_the_caller(
    session: Session, twilio: TwilioSimulator
) -> None:
    from sqlalchemy.orm import sessionmaker

    from contact_center import db
    from tests.conftest import TEST_DATABASE_URL
    from tests.contact_center.test_db import drop_pooled_connection

    practice = make_practice(session)
    session.commit()
    engine = db.make_engine(TEST_DATABASE_URL, pool_size=1, max_overflow=0)
    db.bind(sessionmaker(bind=engine, expire_on_commit=False))
    form = {
        "CallSid": new_sid("CA"),
        "From": PATIENT,
        "To": practice.phone_number,
        "AccountSid": twilio.account_sid,
        "CallStatus": "ringing",
    }
    try:
        drop_pooled_connection(engine)  # in use a moment ago: no ping on checkout
        status, body = twilio.post("/twilio/voice/incoming", form)
    finally:
        engine.dispose()
    assert status == 200
    assert "we would like to record this call" in body and "We're sorry" not in body
    call = call_row(session, form["CallSid"])
    events = session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id)).all()
    assert events == ["incoming"]


def test_caller_text_cannot_break_the_twiml(session: Session, twilio: TwilioSimulator) -> None:
    practice = make_practice(session, greeting="Welcome to <Glow> & \x07Co\x1b.")
    sim = twilio.call(PATIENT, practice.phone_number)
    assert sim.errors == []
    assert sim.heard[0] == "Welcome to <Glow> & Co ."
