"""SMS jobs: each takes an id, is safe to run twice, and sends at most one text."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, after_commit
from contact_center.messaging import services
from contact_center.messaging.models import Message
from contact_center.runtime import current_settings
from contact_center.twilio import get_adapter

logger = logging.getLogger(__name__)


def deliver_message(message_id: int) -> None:
    """Hand a pending text to Twilio, after re-checking opt-out, PHI and quiet hours.

    The message is marked ``sending`` and committed before the REST request, so a second run
    (a retry, the reconciler) never sends it twice; if Twilio refuses, it goes back to pending
    and the exception propagates for RQ's retry.
    """
    settings = current_settings()
    with session_scope() as session:
        outbound = services.claim_for_delivery(session, message_id, clock.now())
        message = session.get(Message, message_id)
        later = (
            message.send_after
            if outbound is None and message is not None and (message.status.value == "pending")
            else None
        )
        if later is not None:
            schedule_delivery(session, message_id, later)
    if outbound is None:
        return
    try:
        sid = get_adapter(settings).send_message(
            to=outbound.to,
            from_=outbound.from_,
            body=outbound.body,
            status_callback=services.STATUS_CALLBACK,
        )
    except Exception:
        with session_scope() as session:
            services.release_after_error(session, message_id)
        raise
    with session_scope() as session:
        services.mark_handed_over(session, message_id, sid, clock.now())
    logger.info("sms handed to twilio message_id=%s message_sid=%s", message_id, sid)


def schedule_delivery(session: Session, message_id: int, send_after: object = None) -> None:
    """Deliver the message once ``session`` commits: now, or at its ``send_after`` (quiet
    hours). If Redis is away then, ``reconcile_texts`` sends it."""
    from datetime import datetime

    if isinstance(send_after, datetime) and send_after > clock.now():
        after_commit(
            session,
            deliver_message,
            message_id,
            queue=REALTIME,
            job_id=f"sms-{message_id}-at",
            at=send_after,
        )
    else:
        after_commit(
            session, deliver_message, message_id, queue=REALTIME, job_id=f"sms-{message_id}"
        )


def recover_message(message_id: int) -> None:
    """A text a dead worker left ``sending``: if Twilio has it, record its SID; if not, send
    it again. Twilio is asked, not guessed, so a lost answer never becomes a second text."""
    settings = current_settings()
    with session_scope() as session:
        stale = services.stale_delivery(session, message_id, clock.now())
    if stale is None:
        return
    outbound, since = stale
    sid = get_adapter(settings).find_sent_message(
        to=outbound.to, from_=outbound.from_, body=outbound.body, since=since
    )
    with session_scope() as session:
        if sid is not None:
            services.mark_handed_over(session, message_id, sid, clock.now())
        else:
            services.release_after_error(session, message_id)
            schedule_delivery(session, message_id)
    logger.warning(
        "sms left sending by a dead worker message_id=%s: %s",
        message_id,
        f"Twilio had it, message_sid={sid}" if sid else "Twilio never got it, sending again",
    )


def reconcile_texts() -> None:
    """The periodic reconciler: pending texts that are due, and texts a dead worker left
    ``sending``, are enqueued again (the database says what is due; Redis may have lost it)."""
    with session_scope() as session:
        due = services.pending_due(session, clock.now())
        stale = services.stale_sending(session, clock.now())
        for message_id in due:
            schedule_delivery(session, message_id)
        for message_id in stale:
            after_commit(
                session,
                recover_message,
                message_id,
                queue=REALTIME,
                job_id=f"sms-{message_id}-lost",
            )
    if due or stale:
        logger.info("texts reconciled due=%s stale=%s", due, stale)
