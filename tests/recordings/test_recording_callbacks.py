"""Recording status callbacks: metadata kept once; a recording without consent is undone."""

from __future__ import annotations

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import clock, create_app, runtime
from contact_center.db import session_scope
from contact_center.jobs import DEFAULT
from contact_center.models import TwilioRequest
from contact_center.settings import Settings
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator, new_sid
from ivr.models import Call, CallEvent
from recordings.jobs import delete_at_twilio, reconcile_deletions
from recordings.models import Recording, StorageState, TwilioDeletion
from recordings.services import request_twilio_deletion
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BASE_URL, drain_queues, flask_transport
from tests.factories import make_coordinator, make_practice
from tests.openapi import problems

PATIENT = "+13105550142"


def recording_jobs(redis: Redis) -> list[str]:
    """The queued jobs of the recordings feature (other features queue their own on a call)."""
    return sorted(j for j in Queue(DEFAULT, connection=redis).job_ids if "recording" in j)


def recording_form(twilio: TwilioSimulator, call_sid: str, recording_sid: str) -> dict[str, str]:
    return {
        "AccountSid": twilio.account_sid,
        "CallSid": call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}"
        f"/Recordings/{recording_sid}",
        "RecordingStatus": "completed",
        "RecordingDuration": "31",
        "RecordingChannels": "2",
    }


def test_replayed_recording_callback_is_stored_once(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="1")], dials=[DialPlan()])
    )
    replay = recording_form(twilio, sim.call_sid, sim.recordings[0]["RecordingSid"])
    assert twilio.post("/twilio/recordings/status?source=call", replay)[0] == 200
    assert session.scalar(select(func.count()).select_from(Recording)) == 1
    # One download, queued by the first callback; the replay queued nothing more. In sandbox
    # mode there is no Twilio to download from, so the download is skipped.
    sid = replay["RecordingSid"]
    assert recording_jobs(redis) == [f"download-recording-{sid}"]
    drain_queues(redis)
    assert session.scalars(select(Recording.storage_state)).one() == StorageState.SKIPPED


def test_recording_without_consent_is_refused_and_deleted_at_twilio(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="2")], dials=[DialPlan()])
    )
    rogue = new_sid("RE")
    form = recording_form(twilio, sim.call_sid, rogue)
    assert twilio.post("/twilio/recordings/status?source=call", form)[0] == 200
    assert twilio.post("/twilio/recordings/status?source=call", form)[0] == 200  # replayed

    assert session.scalar(select(func.count()).select_from(Recording)) == 0
    call = session.scalars(select(Call).where(Call.call_sid == sim.call_sid)).one()
    compliance = session.scalars(
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "compliance")
    ).one()
    assert compliance.detail == {"problem": "recording_without_consent", "recording_sid": rogue}

    assert recording_jobs(redis) == [f"delete-recording-{rogue}"]  # the replay queued no second
    drain_queues(redis)
    deletes = list(session.scalars(select(TwilioRequest).where(TwilioRequest.method == "DELETE")))
    assert [d.url.rsplit("/", 1)[1] for d in deletes] == [f"{rogue}.json"]
    assert problems("DELETE", deletes[0].url, deletes[0].form) == []


def test_recording_without_consent_is_deleted_by_the_reconciler_after_redis_was_away(
    app: Flask, session: Session, redis: Redis, settings: Settings
) -> None:
    """Redis away when the callback came: the deletion stays pending in the database and the
    reconciler deletes the recording at Twilio (through the adapter), once."""
    practice = make_practice(session)
    make_coordinator(session, practice)
    twilio = TwilioSimulator(BASE_URL, AUTH_TOKEN, ACCOUNT_SID, flask_transport(app.test_client()))
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="2")], dials=[DialPlan()])
    )
    drain_queues(redis)
    rogue = new_sid("RE")
    dead = create_app(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    try:
        offline = TwilioSimulator(
            BASE_URL, AUTH_TOKEN, ACCOUNT_SID, flask_transport(dead.test_client())
        )
        form = recording_form(offline, sim.call_sid, rogue)
        assert offline.post("/twilio/recordings/status?source=call", form)[0] == 200
    finally:
        runtime.install(settings)
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == rogue)
    ).one()
    assert (pending.reason, pending.deleted_at) == ("no_consent", None)
    assert recording_jobs(redis) == []  # Redis never heard of it

    assert reconcile_deletions(older_than_s=0) == 1
    drain_queues(redis)
    deletes = list(session.scalars(select(TwilioRequest).where(TwilioRequest.method == "DELETE")))
    assert [d.url.rsplit("/", 1)[1] for d in deletes] == [f"{rogue}.json"]
    session.refresh(pending)
    assert pending.deleted_at is not None
    assert reconcile_deletions(older_than_s=0) == 0  # done: nothing more to delete


def test_a_failed_deletion_at_twilio_stays_pending_and_is_retried(
    app: Flask, session: Session, redis: Redis, settings: Settings
) -> None:
    """Twilio answering 500 to the DELETE: the deletion is noted, stays pending, and the
    reconciler's next run deletes it."""
    from contact_center import twilio as adapter_module

    practice = make_practice(session)
    rogue = new_sid("RE")
    with session_scope() as s:
        request_twilio_deletion(s, practice.id, rogue, "no_consent", clock.now())

    class Refusing(adapter_module.TwilioAdapter):
        def delete_recording(self, recording_sid: str) -> None:
            raise RuntimeError("twilio answered 500")

    adapter_module._adapters[id(runtime.current_settings())] = Refusing(settings)
    try:
        with pytest.raises(RuntimeError):
            delete_at_twilio(rogue)
    finally:
        adapter_module._adapters.pop(id(runtime.current_settings()), None)
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == rogue)
    ).one()
    assert (pending.attempts, pending.deleted_at) == (1, None)
    assert "500" in (pending.last_error or "")

    assert reconcile_deletions(older_than_s=0) == 1
    drain_queues(redis)
    session.refresh(pending)
    assert pending.deleted_at is not None
