"""IVR jobs: the missed-call text-back (after a voice status callback, or from the reconciler)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, after_commit
from contact_center.messaging.jobs import schedule_delivery
from ivr import sms

logger = logging.getLogger(__name__)


def text_back_missed_call(call_sid: str) -> None:
    """One text to a caller whose call ended unanswered (if the number may be texted)."""
    with session_scope() as session:
        message = sms.missed_call_text(session, call_sid, clock.now())
        if message is not None and message.status.value == "pending":
            schedule_delivery(session, message.id, message.send_after)


def schedule_text_back(session: Session, call_sid: str) -> None:
    """Text back a call that ended once ``session`` commits (once per call while it waits)."""
    after_commit(
        session,
        text_back_missed_call,
        call_sid,
        queue=REALTIME,
        job_id=f"text-back-{call_sid}",
    )


def reconcile_text_backs() -> None:
    """The periodic reconciler: calls that ended unanswered whose text-back never went out (a
    lost status callback, Redis away) get it now."""
    with session_scope() as session:
        missed = sms.unanswered_calls_without_text(session, clock.now())
        for call_sid in missed:
            schedule_text_back(session, call_sid)
    if missed:
        logger.info("text-backs re-enqueued calls=%s", missed)
