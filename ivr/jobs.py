"""IVR jobs: the missed-call text-back (after a voice status callback, or from the reconciler)."""

from __future__ import annotations

import logging

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, enqueue
from contact_center.messaging.jobs import schedule_delivery
from contact_center.runtime import current_settings
from contact_center.settings import Settings
from ivr import sms

logger = logging.getLogger(__name__)


def text_back_missed_call(call_sid: str) -> None:
    """One text to a caller whose call ended unanswered (if the number may be texted)."""
    with session_scope() as session:
        message = sms.missed_call_text(session, call_sid, clock.now())
        pending = message is not None and message.status.value == "pending"
        message_id, send_after = (message.id, message.send_after) if message else (0, None)
    if pending:
        schedule_delivery(current_settings(), message_id, send_after)


def schedule_text_back(settings: Settings, call_sid: str) -> None:
    """Enqueue the text-back of a call that ended (once per call while it waits)."""
    enqueue(
        settings,
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
        schedule_text_back(current_settings(), call_sid)
    if missed:
        logger.info("text-backs re-enqueued calls=%s", missed)
