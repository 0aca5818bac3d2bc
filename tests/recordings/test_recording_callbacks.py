"""Recording status callbacks: metadata kept once; a recording without consent is undone."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.jobs import DEFAULT
from contact_center.models import TwilioRequest
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator, new_sid
from ivr.models import Call, CallEvent
from recordings.models import Recording, StorageState
from tests.conftest import drain_queues
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
