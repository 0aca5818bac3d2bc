"""The coordinator's decision on a possible opt-out (``ivr.opt_out.Intent.POSSIBLE``): the
inbox's "Confirm opt-out" and "Not an opt-out" buttons.

Confirming is a STOP on the patient's behalf: the number is opted out of the practice's texts,
open callbacks end, and the ledger records who decided on which words. No confirmation text is
sent: the FCC's one confirmation is due within minutes of the request, and a person's review
may come hours later; the patient asked not to be contacted. Clearing releases what waited: held
texts go (quiet hours still apply) and paused callback attempts are due again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import DomainError, NotFound
from contact_center.messaging import pause, quiet_hours
from contact_center.messaging import services as messaging
from contact_center.messaging.models import Conversation, Message, MessageDirection
from contact_center.models import Practice
from ivr.models import ConsentKind, ConsentRecord
from routing import dialer
from routing.dialer_models import AttemptState, CallbackAttempt
from routing.models import CallbackStatus, CallbackTask

logger = logging.getLogger(__name__)


class NoReviewPending(DomainError):
    """The thread has no possible opt-out waiting (decided already, or never flagged)."""


@dataclass(frozen=True)
class Released:
    """What a "not an opt-out" decision lets go, to enqueue after the commit."""

    message_ids: list[int]
    attempts: list[tuple[int, datetime]]


def _pending(session: Session, practice_id: int, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.practice_id != practice_id:
        raise NotFound("no such conversation")
    if conversation.opt_out_review_at is None or conversation.opted_out_at is not None:
        raise NoReviewPending("this conversation has no possible opt-out to decide")
    return conversation


def _last_words(session: Session, conversation: Conversation) -> str | None:
    return session.scalars(
        select(Message.body)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == MessageDirection.INBOUND,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).first()


def confirm_opt_out(
    session: Session, practice_id: int, conversation_id: int, user_id: int, now: datetime
) -> None:
    """The coordinator read the patient's words as an opt-out: stop texts and calls.

    Raises ``NotFound`` (another practice's thread) and ``NoReviewPending``."""
    conversation = _pending(session, practice_id, conversation_id)
    messaging.set_opt_out(session, conversation, True, now)
    session.add(
        ConsentRecord(
            practice_id=practice_id,
            kind=ConsentKind.SMS,
            phone=conversation.phone,
            granted=False,
            method="coordinator",
            speech=(_last_words(session, conversation) or "")[:200],
            wording=f"possible opt-out confirmed by user {user_id}",
            at=now,
        )
    )
    dialer.stop_for_opt_out(session, practice_id, conversation.phone, now)
    conversation.needs_reply = False
    logger.info("possible opt-out confirmed conversation=%s user=%s", conversation.id, user_id)


def not_an_opt_out(
    session: Session, practice_id: int, conversation_id: int, user_id: int, now: datetime
) -> Released:
    """The coordinator read the patient's words as no opt-out: resume what waited.

    Raises ``NotFound`` and ``NoReviewPending``."""
    conversation = _pending(session, practice_id, conversation_id)
    message_ids = pause.release_held_texts(session, conversation, now)
    practice = session.get_one(Practice, practice_id)
    due = quiet_hours.next_allowed(
        conversation.phone, practice.timezone, now, practice_number=practice.phone_number
    )
    paused = session.scalars(
        select(CallbackAttempt)
        .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
        .where(
            CallbackTask.practice_id == practice_id,
            CallbackTask.phone == conversation.phone,
            CallbackTask.status.in_((CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS)),
            CallbackAttempt.state == AttemptState.SCHEDULED,
            CallbackAttempt.due_at <= now + pause.REVIEW_RECHECK,
        )
    ).all()
    for attempt in paused:
        attempt.due_at = due
    logger.info("possible opt-out cleared conversation=%s user=%s", conversation.id, user_id)
    return Released(message_ids, [(a.id, a.due_at) for a in paused])
