"""IVR jobs: the missed-call text-back (after a voice status callback, or from the reconciler)."""

from __future__ import annotations

from contact_center import clock
from contact_center.db import session_scope
from contact_center.messaging.jobs import schedule_delivery
from contact_center.runtime import current_settings
from ivr import sms


def text_back_missed_call(call_sid: str) -> None:
    """One text to a caller whose call ended unanswered (if the number may be texted)."""
    with session_scope() as session:
        message = sms.missed_call_text(session, call_sid, clock.now())
        pending = message is not None and message.status.value == "pending"
        message_id, send_after = (message.id, message.send_after) if message else (0, None)
    if pending:
        schedule_delivery(current_settings(), message_id, send_after)
