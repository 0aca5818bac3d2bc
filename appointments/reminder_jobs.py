"""Reminder jobs: the periodic reconciler enqueues what the database says is due; each send job
claims one reminder, hands its text to the send function and delivers it."""

from __future__ import annotations

import logging

from appointments import reminders
from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, after_commit
from contact_center.messaging.jobs import deliver_message

logger = logging.getLogger(__name__)


def send_reminder(reminder_id: int) -> None:
    """Send one due reminder; safe to run twice (the second run finds it done).

    The reminder turns ``queued`` in the transaction that writes its pending message, so a
    worker killed after that commit leaves a message for messaging's reconciler (and its
    ``sending`` recovery), never a second text.
    """
    with session_scope() as session:
        message_id = reminders.prepare_reminder(session, reminder_id, clock.now())
    if message_id is not None:
        deliver_message(message_id)
        logger.info("reminder sent reminder_id=%s message_id=%s", reminder_id, message_id)


def reconcile_reminders() -> None:
    """Enqueue every reminder that is due and still scheduled (Redis may have lost it)."""
    with session_scope() as session:
        due = reminders.due_reminders(session, clock.now())
        for reminder_id in due:
            after_commit(
                session,
                send_reminder,
                reminder_id,
                queue=REALTIME,
                job_id=f"reminder-{reminder_id}",
            )
    if due:
        logger.info("reminders due: %s enqueued", len(due))
