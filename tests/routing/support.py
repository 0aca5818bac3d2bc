"""Helpers shared by the routing tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.models import TwilioRequest
from ivr.models import Call, CallEvent
from routing.models import QueueEntry

PATIENTS = [f"+1310555{n:04d}" for n in range(1000, 1300)]


def call_row(session: Session, call_sid: str) -> Call:
    return session.scalars(select(Call).where(Call.call_sid == call_sid)).one()


def entry_of(session: Session, call_sid: str) -> QueueEntry:
    return session.scalars(
        select(QueueEntry)
        .where(QueueEntry.call_sid == call_sid)
        .execution_options(populate_existing=True)
    ).one()


def events(session: Session, call_sid: str, kind: str | None = None) -> list[CallEvent]:
    call = call_row(session, call_sid)
    query = select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id)
    if kind is not None:
        query = query.where(CallEvent.kind == kind)
    return list(session.scalars(query))


def kinds(session: Session, call_sid: str) -> list[str]:
    return [e.kind for e in events(session, call_sid)]


def redirects(session: Session) -> list[TwilioRequest]:
    """REST redirects of live calls the adapter recorded (sandbox)."""
    rows = session.scalars(select(TwilioRequest).order_by(TwilioRequest.id))
    return [r for r in rows if "/Calls/CA" in r.url and "Url" in (r.form or {})]
