"""Recording callbacks: keep the metadata, and undo any recording made without consent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.events import RecordingStatus
from ivr.models import Call
from ivr.services import call_by_sid
from ivr.timeline import add_event
from recordings.models import Recording, RecordingSource

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
            call.call_sid, event.recording_sid,
        )
        add_event(
            session, call, "compliance", now,
            {"problem": "recording_without_consent", "recording_sid": event.recording_sid},
            dedupe_key=f"compliance:{event.recording_sid}",
        )
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
        session, call, "recording", now,
        {"recording_sid": event.recording_sid, "source": source.value},
        dedupe_key=f"recording:{event.recording_sid}",
    )
    session.flush()
    return RecordingDecision(event.recording_sid, keep=True, new=True)
