"""Minimum necessary: who may read a call's recording or transcript, and the audit of every read.

Recordings and transcripts are visible to the practice's QA leads and admins and to the
coordinator on that call, nobody else. Every read writes an ``AuditEvent`` (who, what, when, from
where) in the reader's transaction, so a read whose audit row cannot be written does not happen
either. A refused attempt changes nothing (its transaction rolls back) and is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import auth
from contact_center.errors import Forbidden
from ivr.models import Call
from qa.models import AuditEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reader:
    """The person asking, and from where (the console passes the request's address and agent)."""

    user_id: int
    ip_address: str | None = None
    user_agent: str | None = None


def on_call(call: Call) -> tuple[int | None, int | None]:
    """The coordinators on a call: the one who answered it and the one reserved for it."""
    return call.answered_by_id, call.coordinator_id


def may_read_call(session: Session, user_id: int, call: Call) -> bool:
    """The one call access rule (``contact_center.auth.may_handle_call``) for this call."""
    return auth.may_handle_call(session, user_id, call.practice_id, on_call(call))


def audit_read(
    session: Session,
    reader: Reader,
    call: Call,
    *,
    action: str,
    object_type: str,
    object_id: int,
    now: datetime,
) -> None:
    """Check the reader may see this call's media, then write the audit row.

    Raises ``Forbidden`` (logged, nothing written) when they may not.
    """
    if not may_read_call(session, reader.user_id, call):
        logger.warning(
            "refused %s of %s %s call_sid=%s user_id=%s ip=%s",
            action,
            object_type,
            object_id,
            call.call_sid,
            reader.user_id,
            reader.ip_address,
        )
        raise Forbidden(
            "only the practice's QA leads and admins and the call's coordinator "
            "may see its recordings and transcripts"
        )
    session.add(
        AuditEvent(
            practice_id=call.practice_id,
            user_id=reader.user_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            call_id=call.id,
            ip_address=(reader.ip_address or None) and reader.ip_address[:45],
            user_agent=(reader.user_agent or None) and reader.user_agent[:255],
            at=now,
        )
    )
    session.flush()


def audit_trail(session: Session, practice_id: int, call_id: int | None = None) -> list[AuditEvent]:
    """The audit rows of a practice (or one of its calls), newest first."""
    query = select(AuditEvent).where(AuditEvent.practice_id == practice_id)
    if call_id is not None:
        query = query.where(AuditEvent.call_id == call_id)
    return list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())))
