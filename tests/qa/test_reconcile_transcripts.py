"""A lost transcription or scoring job is not lost work: the reconciler finds stored recordings
without a transcript and call transcripts without a score, and starts them again (once)."""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import utcnow
from contact_center.jobs import DEFAULT, TRANSCRIPTION
from ivr.models import Call, CallStatus, Direction
from qa.models import CallScore
from recordings.models import Recording, RecordingSource, StorageState
from tests.conftest import drain_queues
from tests.factories import make_practice
from transcription.jobs import reconcile_transcripts
from transcription.models import Transcript


def recording(
    session: Session, call: Call, n: int, state: StorageState, stored_ago: timedelta
) -> Recording:
    now = clock.now()
    rec = Recording(
        practice_id=call.practice_id,
        call_id=call.id,
        recording_sid="RE" + f"{n:032x}",
        source=RecordingSource.CALL,
        status="completed",
        url="https://api.twilio.com/x",
        channels=2,
        duration_s=60,
        received_at=now - stored_ago,
        storage_state=state,
        stored_at=now - stored_ago if state is StorageState.STORED else None,
    )
    session.add(rec)
    session.flush()
    return rec


def test_untranscribed_and_unscored_calls_are_started_again(session: Session, redis: Redis) -> None:
    now = utcnow()
    clock.pin(now)
    practice = make_practice(session)
    call = Call(
        practice_id=practice.id,
        call_sid="CA" + "5" * 32,
        direction=Direction.INBOUND,
        from_number="+13105550142",
        to_number=practice.phone_number,
        status=CallStatus.COMPLETED,
        recording_allowed=True,
        started_at=now - timedelta(hours=1),
    )
    session.add(call)
    session.flush()
    lost = recording(session, call, 1, StorageState.STORED, timedelta(minutes=30))
    recording(session, call, 2, StorageState.STORED, timedelta(minutes=1))  # its job may run
    recording(session, call, 3, StorageState.PENDING, timedelta(minutes=30))  # not stored yet
    scored_later = recording(session, call, 4, StorageState.STORED, timedelta(minutes=40))
    transcript = Transcript(
        practice_id=practice.id,
        call_id=call.id,
        recording_id=scored_later.id,
        engine="test",
        audio_s=60.0,
        processing_s=1.0,
        created_at=now - timedelta(minutes=20),
    )
    session.add(transcript)
    session.commit()

    assert reconcile_transcripts() == (1, 1)
    assert reconcile_transcripts() == (1, 1)  # twice: still one job each
    assert Queue(TRANSCRIPTION, connection=redis).job_ids == [f"transcribe-{lost.recording_sid}"]
    assert Queue(DEFAULT, connection=redis).job_ids == [f"score-transcript-{transcript.id}"]

    drain_queues(redis)  # a real burst worker runs both
    score = session.scalars(select(CallScore).where(CallScore.transcript_id == transcript.id)).one()
    assert score.call_id == call.id
    session.expire_all()
    assert reconcile_transcripts()[1] == 0  # scored: nothing more to start
