"""The one send function: opt-out on every path, PHI, quiet hours, delivery and status callbacks,
templates, and the missed-call text-back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.messaging import phi, quiet_hours, services, templates
from contact_center.messaging.jobs import deliver_message
from contact_center.messaging.models import Message, MessageKind, MessageStatus
from contact_center.models import Practice
from contact_center.simulator import Caller, TwilioSimulator
from ivr import sms
from tests.conftest import at_local
from tests.factories import make_coordinator, make_practice
from tests.openapi import problems
from tests.outbound import rest_requests, run_jobs, text_in

LA = "America/Los_Angeles"
NY = "America/New_York"
PATIENT = "+13105550142"
NY_PATIENT = "+12125550142"
IDAHO = "+12085550100"  # Mountain or Pacific: the stricter applies


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def opt_out(session: Session, practice: Practice, phone: str) -> None:
    conv = services.conversation_for(session, practice.id, phone, clock.now())
    services.set_opt_out(session, conv, True, clock.now())
    session.flush()


def test_opted_out_number_is_refused_on_every_send_path(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    now = clock.now()
    # A reminder queued before the STOP ...
    pending = services.send_sms(
        session,
        practice,
        PATIENT,
        "See you soon at Glow Aesthetics. Reply STOP to opt out.",
        MessageKind.REMINDER,
        now,
    )
    session.flush()
    opt_out(session, practice, PATIENT)
    # ... is refused at once, and the job (if it runs anyway) sends nothing.
    assert pending.status is MessageStatus.REFUSED and pending.refused_reason == "opted_out"
    deliver_message(pending.id)
    for kind in MessageKind:
        with pytest.raises(services.SmsRefused) as refused:
            services.send_sms(session, practice, PATIENT, "Hello", kind, now, direct_reply=True)
        assert refused.value.reason == "opted_out" and "opted out" in str(refused.value)
    conv = services.find_conversation(session, practice.id, PATIENT)
    assert conv is not None
    with pytest.raises(services.SmsRefused):  # the coordinator sees the refusal
        services.reply_from_coordinator(session, conv.id, 1, "Hi!", now)
    assert sms.missed_call_text(session, "CA" + "0" * 32, now) is None
    assert text_in(twilio, PATIENT, practice.phone_number, "HELP") == (200, None)
    assert text_in(twilio, PATIENT, practice.phone_number, "hello?") == (200, None)
    run_jobs(redis)
    assert rest_requests(session, "Messages") == []


def test_stop_between_queueing_and_delivery_wins(
    session: Session, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    message = services.send_sms(
        session,
        practice,
        PATIENT,
        "A reminder from Glow Aesthetics. Reply STOP to opt out.",
        MessageKind.REMINDER,
        clock.now(),
    )
    session.flush()
    # The opt-out lands without touching pending messages (e.g. another process): the job
    # re-checks at delivery time.
    conv = services.find_conversation(session, practice.id, PATIENT)
    assert conv is not None
    conv.opted_out_at = clock.now()
    session.flush()
    deliver_message(message.id)
    session.refresh(message)
    assert message.status is MessageStatus.REFUSED and message.message_sid is None
    assert rest_requests(session, "Messages") == []


def test_phi_is_refused_in_templates_and_texts(session: Session, practice: Practice) -> None:
    now = clock.now()
    with pytest.raises(phi.PhiInText) as caught:
        templates.save_template(
            session,
            practice,
            "reminder",
            "Hi {first_name}, your Botox appointment is on {date}.",
            now,
        )
    assert caught.value.terms == ["botox"] and caught.value.field == "body"
    for text in (
        "Your lip fillers are ready",
        "Post-op check tomorrow",
        "About your LASER session",
        "Your tummy tuck consult",
        "Your test results are in",
    ):
        with pytest.raises(phi.PhiInText):
            services.send_sms(
                session, practice, PATIENT, text, MessageKind.COORDINATOR, now, direct_reply=True
            )
    safe = templates.save_template(
        session,
        practice,
        "reminder",
        "Hi {first_name}, you have an appointment at {practice_name} on {date} at {time}. "
        "Book or change: {booking_link}",
        now,
    )
    phi.add_term(session, practice.id, "Glow Signature Facial")
    with pytest.raises(phi.PhiInText):
        templates.save_template(session, practice, "promo", "Try the glow signature facial!", now)
    with pytest.raises(InvalidInput) as unknown:
        templates.save_template(session, practice, "bad", "Hi {patient_dob}", now)
    assert "patient_dob" in str(unknown.value)
    text = templates.render(
        session,
        practice,
        "reminder",
        templates.TemplateValues(
            first_name="Maya", date="May 3", time="2 PM", booking_link="https://glow.example/b"
        ),
    )
    assert text == (
        "Hi Maya, you have an appointment at Glow Aesthetics on May 3 at 2 PM. "
        "Book or change: https://glow.example/b"
    )
    assert safe.body.startswith("Hi {first_name}")
    # A practice whose name contains a listed word may still sign its texts.
    laser = make_practice(session, name="Glow Laser Studio")
    services.send_sms(
        session,
        laser,
        PATIENT,
        "Thanks for texting Glow Laser Studio!",
        MessageKind.ACKNOWLEDGMENT,
        now,
        direct_reply=True,
    )
    assert phi.phi_found("lipstick and stopwatch") == []


def test_quiet_hours_use_the_patients_zone_and_the_stricter_of_two() -> None:
    at = at_local(NY, 2026, 11, 24, 21, 0)  # 9 PM Eastern = 6 PM Pacific
    assert quiet_hours.is_quiet(NY_PATIENT, LA, at)
    assert not quiet_hours.is_quiet(PATIENT, LA, at)
    assert quiet_hours.next_allowed(NY_PATIENT, LA, at) == at_local(NY, 2026, 11, 25, 8, 0)
    assert not quiet_hours.is_quiet(NY_PATIENT, LA, at - timedelta(minutes=1))
    # Idaho's 208 is Mountain or Pacific: 8:30 PM Pacific is 9:30 PM Mountain, so quiet.
    assert quiet_hours.is_quiet(IDAHO, LA, at_local(LA, 2026, 11, 24, 20, 30))
    # 7:30 AM Mountain is 6:30 AM Pacific: allowed from 8 AM Pacific (9 AM Mountain).
    assert quiet_hours.next_allowed(IDAHO, LA, at_local("America/Boise", 2026, 11, 24, 7, 30)) == (
        at_local(LA, 2026, 11, 24, 8, 0)
    )
    # Unknown zone (a toll-free number): the practice's zone.
    assert quiet_hours.is_quiet("+18005550100", LA, at_local(LA, 2026, 11, 24, 22, 0))


def test_unsolicited_text_waits_out_quiet_hours_a_direct_reply_does_not(
    session: Session, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(NY, 2026, 11, 24, 21, 30))
    reminder = services.send_sms(
        session,
        practice,
        NY_PATIENT,
        "A reminder from Glow Aesthetics. Reply STOP to opt out.",
        MessageKind.REMINDER,
        clock.now(),
    )
    reply = services.send_sms(
        session,
        practice,
        NY_PATIENT,
        "Thanks, we got your message!",
        MessageKind.COORDINATOR,
        clock.now(),
        direct_reply=True,
    )
    assert reminder.send_after == at_local(NY, 2026, 11, 25, 8, 0)
    assert reply.send_after is None
    with pytest.raises(services.SmsRefused) as refused:  # a person sending by hand is told
        services.send_sms(
            session,
            practice,
            NY_PATIENT,
            "Any news?",
            MessageKind.COORDINATOR,
            clock.now(),
            on_quiet=services.OnQuiet.REFUSE,
        )
    assert refused.value.reason == "quiet_hours"
    session.flush()
    deliver_message(reminder.id)
    deliver_message(reply.id)
    assert [r.form["Body"] for r in rest_requests(session, "Messages")] == [
        "Thanks, we got your message!"
    ]
    clock.pin(at_local(NY, 2026, 11, 25, 8, 0))
    deliver_message(reminder.id)
    assert len(rest_requests(session, "Messages")) == 2


def test_delivery_and_status_callbacks_are_idempotent_and_forward_only(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    first = services.send_sms(
        session,
        practice,
        PATIENT,
        "Hello from Glow Aesthetics. Reply STOP to opt out.",
        MessageKind.REMINDER,
        clock.now(),
    )
    second = services.send_sms(
        session,
        practice,
        "+13105550150",
        "Hello from Glow Aesthetics. Reply STOP to opt out.",
        MessageKind.REMINDER,
        clock.now(),
    )
    session.flush()
    for message_id in (first.id, second.id, first.id):  # the job runs twice: one request
        deliver_message(message_id)
    requests = rest_requests(session, "Messages")
    assert len(requests) == 2
    for row in requests:
        assert problems(row.method, row.url, row.form) == []
        assert row.form["From"] == practice.phone_number
        assert row.form["StatusCallback"] == "https://cc.example.test/twilio/sms/status"
    session.refresh(first)
    session.refresh(second)
    assert first.status is MessageStatus.QUEUED and first.message_sid

    def status(sid: str | None, value: str, **extra: str) -> None:
        form = {
            "MessageSid": sid or "",
            "MessageStatus": value,
            "AccountSid": twilio.account_sid,
            **extra,
        }
        assert twilio.post("/twilio/sms/status", form)[0] == 200

    for value in ("sent", "delivered", "sent", "delivered", "queued"):
        status(first.message_sid, value)
    status(second.message_sid, "undelivered", ErrorCode="30003")
    status(second.message_sid, "failed", ErrorCode="30003")
    status("SM" + "f" * 32, "delivered")  # unknown: ignored
    session.refresh(first)
    session.refresh(second)
    assert first.status is MessageStatus.DELIVERED
    assert second.status is MessageStatus.UNDELIVERED and second.error_code == "30003"


def test_coordinator_reply_is_direct_within_the_hour_then_quiet_hours_apply(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(NY, 2026, 11, 24, 21, 40))
    text_in(twilio, NY_PATIENT, practice.phone_number, "Can someone call me tomorrow?")
    conv = services.find_conversation(session, practice.id, NY_PATIENT)
    assert conv is not None and conv.needs_reply
    user = make_coordinator(session, practice)
    message = services.reply_from_coordinator(session, conv.id, user.id, "Yes! At 10?", clock.now())
    assert message.status is MessageStatus.PENDING and message.send_after is None
    assert conv.needs_reply is False
    clock.pin(at_local(NY, 2026, 11, 24, 23, 0))
    with pytest.raises(services.SmsRefused):
        services.reply_from_coordinator(session, conv.id, user.id, "Still there?", clock.now())


def test_missed_call_gets_one_text_back_within_a_minute(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    sim = twilio.call(PATIENT, practice.phone_number, Caller(voicemail_seconds=[10]))
    twilio.status(sim.call_sid, "completed")  # replayed final status
    run_jobs(redis)
    texts = rest_requests(session, "Messages")
    assert [(t.form["To"], t.form["Body"][:29]) for t in texts] == [
        (PATIENT, "Sorry we missed your call at ")
    ]
    message = session.scalars(select(Message).where(Message.kind == MessageKind.MISSED_CALL)).one()
    assert message.sent_at is not None and message.sent_at - clock.now() < timedelta(minutes=1)
    # The reconciler finds nothing missing; an answered call gets no text.
    with session_scope() as s:
        assert sms.unanswered_calls_without_text(s, clock.now()) == []
    make_coordinator(session, practice)
    from contact_center.simulator import Answer, DialPlan

    twilio.call(
        "+13105550151",
        practice.phone_number,
        Caller(answers=[Answer(digits="1"), Answer(digits="1")], dials=[DialPlan()]),
    )
    run_jobs(redis)
    assert len(rest_requests(session, "Messages")) == 1
