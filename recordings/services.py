"""Recordings: metadata from callbacks (undoing any made without consent), the stored audio's
lifecycle (download, refusal, retention), and audited reads.

Services take the session first and never commit; jobs and views own the transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput, NotFound
from ivr.events import RecordingStatus
from ivr.models import Call
from ivr.services import call_by_sid
from ivr.timeline import add_event
from qa.audit import Reader, audit_read
from recordings.models import (
    DEFAULT_RETENTION_DAYS,
    Recording,
    RecordingPolicy,
    RecordingSource,
    StorageState,
    TwilioDeletion,
)
from recordings.storage import StoredFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingDecision:
    """What the callback decided: keep (download later) or delete at Twilio (no consent)."""

    recording_sid: str
    keep: bool
    new: bool


def attach_recording(
    session: Session, event: RecordingStatus, source: RecordingSource, now: datetime
) -> RecordingDecision:
    """Store a finished recording's metadata against its call, once per RecordingSid.

    A call recording without the caller's consent must never exist: it is not kept, the
    caller's call gets a ``compliance`` timeline event, and the recording is to be deleted.
    Raises ``ivr.services.UnknownCall`` if the call is unknown.
    """
    call: Call = call_by_sid(session, event.call_sid)
    existing = session.scalars(
        select(Recording).where(Recording.recording_sid == event.recording_sid)
    ).one_or_none()
    consented = source is RecordingSource.VOICEMAIL or call.recording_allowed is True
    if existing is not None:
        return RecordingDecision(event.recording_sid, consented, new=False)
    if not consented:
        logger.error(
            "compliance: recording without consent call_sid=%s recording_sid=%s",
            call.call_sid,
            event.recording_sid,
        )
        add_event(
            session,
            call,
            "compliance",
            now,
            {"problem": "recording_without_consent", "recording_sid": event.recording_sid},
            dedupe_key=f"compliance:{event.recording_sid}",
        )
        request_twilio_deletion(session, call.practice_id, event.recording_sid, "no_consent", now)
        return RecordingDecision(event.recording_sid, keep=False, new=True)
    session.add(
        Recording(
            practice_id=call.practice_id,
            call_id=call.id,
            recording_sid=event.recording_sid,
            source=source,
            status=event.status,
            url=event.url,
            channels=event.channels,
            duration_s=event.duration_s,
            received_at=now,
        )
    )
    add_event(
        session,
        call,
        "recording",
        now,
        {"recording_sid": event.recording_sid, "source": source.value},
        dedupe_key=f"recording:{event.recording_sid}",
    )
    session.flush()
    return RecordingDecision(event.recording_sid, keep=True, new=True)


class UnknownRecording(NotFound):
    """No recording with this SID (or id) exists."""


def recording_by_sid(session: Session, recording_sid: str) -> Recording:
    rec = session.scalars(
        select(Recording).where(Recording.recording_sid == recording_sid)
    ).one_or_none()
    if rec is None:
        raise UnknownRecording(recording_sid)
    return rec


@dataclass(frozen=True)
class DownloadPlan:
    """What the download job needs, read in its first short transaction."""

    recording_sid: str
    practice_id: int
    url: str
    channels: int
    attempt: int


def begin_download(session: Session, recording_sid: str) -> DownloadPlan | None:
    """Count one more download attempt; None when there is nothing left to fetch."""
    rec = recording_by_sid(session, recording_sid)
    if rec.storage_state is not StorageState.PENDING:
        return None
    rec.download_attempts += 1
    session.flush()
    return DownloadPlan(
        rec.recording_sid, rec.practice_id, rec.url, rec.channels, rec.download_attempts
    )


def note_download_failure(session: Session, recording_sid: str, error: str) -> None:
    """Keep the last transient error (the job is retried with backoff)."""
    recording_by_sid(session, recording_sid).last_download_error = error[:2000]


def refuse_download(session: Session, recording_sid: str, reason: str, now: datetime) -> None:
    """Never fetch this recording: log and put a ``compliance`` event on the call's timeline."""
    rec = recording_by_sid(session, recording_sid)
    rec.storage_state = StorageState.REFUSED
    rec.last_download_error = reason[:2000]
    call = session.get_one(Call, rec.call_id)
    logger.error(
        "compliance: recording download refused call_sid=%s recording_sid=%s: %s",
        call.call_sid,
        recording_sid,
        reason,
    )
    add_event(
        session,
        call,
        "compliance",
        now,
        {
            "problem": "recording_download_refused",
            "recording_sid": recording_sid,
            "reason": reason[:500],
        },
        dedupe_key=f"download-refused:{recording_sid}",
    )


def skip_download(session: Session, recording_sid: str) -> None:
    """Sandbox mode: there is no Twilio to fetch from."""
    rec = recording_by_sid(session, recording_sid)
    rec.storage_state = StorageState.SKIPPED
    rec.last_download_error = "sandbox: no Twilio account to download from"


def mark_stored(
    session: Session, recording_sid: str, stored: StoredFile, now: datetime
) -> RecordingPolicy:
    """Record where the encrypted audio is; returns the practice's policy (delete at Twilio?)."""
    rec = recording_by_sid(session, recording_sid)
    rec.storage_state = StorageState.STORED
    rec.stored_path = str(stored.path)
    rec.size_bytes = stored.size
    rec.sha256 = stored.sha256
    rec.stored_at = now
    rec.last_download_error = None
    call = session.get_one(Call, rec.call_id)
    add_event(
        session,
        call,
        "recording_stored",
        now,
        {"recording_sid": recording_sid, "bytes": stored.size},
        dedupe_key=f"recording-stored:{recording_sid}",
    )
    session.flush()
    policy = policy_for(session, rec.practice_id)
    if policy.delete_at_twilio_after_store:
        request_twilio_deletion(session, rec.practice_id, recording_sid, "stored_here", now)
    return policy


def request_twilio_deletion(
    session: Session, practice_id: int, recording_sid: str, reason: str, now: datetime
) -> TwilioDeletion:
    """Keep a pending deletion of Twilio's copy (once per RecordingSid); the caller starts
    ``recordings.jobs.delete_at_twilio`` after its commit, and ``reconcile_deletions`` retries
    it until Twilio confirms."""
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == recording_sid)
    ).one_or_none()
    if pending is None:
        pending = TwilioDeletion(
            practice_id=practice_id, recording_sid=recording_sid, reason=reason, requested_at=now
        )
        session.add(pending)
        session.flush()
    return pending


def deletion_pending(session: Session, recording_sid: str) -> bool:
    """True while Twilio's copy of the recording is still to be deleted."""
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == recording_sid)
    ).one_or_none()
    return pending is not None and pending.deleted_at is None


def note_deletion_failure(session: Session, recording_sid: str, error: str) -> None:
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == recording_sid)
    ).one_or_none()
    if pending is not None:
        pending.attempts += 1
        pending.last_error = error[:2000]


def pending_deletions(session: Session, older_than: datetime) -> list[str]:
    """RecordingSids Twilio still holds that must go (for the reconciler)."""
    return list(
        session.scalars(
            select(TwilioDeletion.recording_sid)
            .where(TwilioDeletion.deleted_at.is_(None), TwilioDeletion.requested_at < older_than)
            .order_by(TwilioDeletion.id)
        )
    )


def mark_deleted_at_twilio(session: Session, recording_sid: str, now: datetime) -> None:
    rec = session.scalars(
        select(Recording).where(Recording.recording_sid == recording_sid)
    ).one_or_none()
    if rec is not None and rec.deleted_at_twilio_at is None:
        rec.deleted_at_twilio_at = now
    pending = session.scalars(
        select(TwilioDeletion).where(TwilioDeletion.recording_sid == recording_sid)
    ).one_or_none()
    if pending is not None and pending.deleted_at is None:
        pending.attempts += 1
        pending.deleted_at = now


def policy_for(session: Session, practice_id: int) -> RecordingPolicy:
    """The practice's recording policy (the defaults, unsaved, when it has none)."""
    policy = session.scalars(
        select(RecordingPolicy).where(RecordingPolicy.practice_id == practice_id)
    ).one_or_none()
    return policy or RecordingPolicy(
        practice_id=practice_id,
        retention_days=DEFAULT_RETENTION_DAYS,
        delete_at_twilio_after_store=False,
    )


def set_policy(
    session: Session, practice_id: int, *, retention_days: int, delete_at_twilio: bool
) -> RecordingPolicy:
    if retention_days < 1:
        raise InvalidInput("retention must be at least one day", "retention_days")
    policy = policy_for(session, practice_id)
    policy.retention_days = retention_days
    policy.delete_at_twilio_after_store = delete_at_twilio
    session.add(policy)
    session.flush()
    return policy


def expired_audio(session: Session, practice_id: int, now: datetime) -> list[Recording]:
    """Stored recordings of a practice older than its retention."""
    cutoff = now - timedelta(days=policy_for(session, practice_id).retention_days)
    return list(
        session.scalars(
            select(Recording)
            .where(
                Recording.practice_id == practice_id,
                Recording.storage_state == StorageState.STORED,
                Recording.stored_at < cutoff,
            )
            .order_by(Recording.id)
        )
    )


def mark_audio_deleted(session: Session, rec: Recording, now: datetime) -> None:
    """The audio is gone (retention); metadata and transcript stay."""
    rec.storage_state = StorageState.DELETED
    rec.stored_path = None
    rec.deleted_at = now


def pending_downloads(session: Session, older_than: datetime) -> list[str]:
    """RecordingSids still waiting for their audio (for the reconciler to re-enqueue)."""
    return list(
        session.scalars(
            select(Recording.recording_sid).where(
                Recording.storage_state == StorageState.PENDING, Recording.received_at < older_than
            )
        )
    )


@dataclass(frozen=True)
class StoredAudio:
    """Enough to stream one recording's decrypted audio (see ``RecordingStore.read``)."""

    recording_id: int
    recording_sid: str
    call_id: int
    path: Path
    sha256: str | None
    channels: int
    source: RecordingSource
    size: int | None = None  # plaintext bytes (for HTTP ranges)


def stored_audio(rec: Recording) -> StoredAudio:
    if rec.storage_state is not StorageState.STORED or rec.stored_path is None:
        raise NotFound(f"recording {rec.recording_sid} has no stored audio ({rec.storage_state})")
    return StoredAudio(
        rec.id,
        rec.recording_sid,
        rec.call_id,
        Path(rec.stored_path),
        rec.sha256,
        rec.channels,
        rec.source,
        rec.size_bytes,
    )


def open_recording(
    session: Session, reader: Reader, recording_id: int, now: datetime, action: str = "play"
) -> StoredAudio:
    """A reader's access to a recording's audio, audited. Raises Forbidden or NotFound."""
    rec = session.get(Recording, recording_id)
    if rec is None:
        raise UnknownRecording(str(recording_id))
    call = session.get_one(Call, rec.call_id)
    audit_read(
        session,
        reader,
        call,
        action=f"recording.{action}",
        object_type="recording",
        object_id=rec.id,
        now=now,
    )
    return stored_audio(rec)
