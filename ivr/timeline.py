"""A call's timeline: every step appended once, however often Twilio replays a callback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.models import Call, CallEvent


def add_event(
    session: Session,
    call: Call,
    kind: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    *,
    fresh: bool = False,
) -> bool:
    """Append a timeline event; with ``dedupe_key``, only the first one lands. True if added.

    ``fresh``: the call was created in this transaction, so no replay can exist yet.
    """
    event = CallEvent(
        call_id=call.id,
        practice_id=call.practice_id,
        kind=kind,
        detail=detail or {},
        dedupe_key=dedupe_key,
        at=now,
    )
    if fresh:
        session.add(event)
        return True
    if dedupe_key is not None:
        seen = session.scalars(
            select(CallEvent.id).where(
                CallEvent.call_id == call.id, CallEvent.dedupe_key == dedupe_key
            )
        ).first()
        if seen is not None:
            return False
    try:
        with session.begin_nested():  # a concurrent replay may insert the same key first
            session.add(event)
    except IntegrityError:
        return False
    return True


def timeline(session: Session, call_id: int) -> list[CallEvent]:
    return list(
        session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
        )
    )


def rung_user_ids(session: Session, call_id: int) -> list[int]:
    """Coordinators already rung for this call (the next ring tries somebody else)."""
    details = session.scalars(
        select(CallEvent.detail).where(CallEvent.call_id == call_id, CallEvent.kind == "ring")
    )
    return [int(d["user_id"]) for d in details if "user_id" in d]
