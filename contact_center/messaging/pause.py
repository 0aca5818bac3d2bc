"""Paused contact: a number that opted out, or whose last text may be an opt-out and waits for
a person's decision ("possible opt-out"), gets no automated text and no call.

``contact_paused`` is the one question the send function, the delivery job and the dialer ask.
While a possible opt-out waits for review, a coordinator may still answer from the inbox (a
person who sees the flag, and may need to ask what the patient meant) and keyword answers
(HELP) still go out; everything automated waits, it is not dropped: when the coordinator
decides "not an opt-out", held texts and calls resume (``release_held_texts``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.messaging.models import Conversation, Message, MessageKind, MessageStatus

# Texts a person sends, or answers to the patient's own keyword: not held during a review.
PERSON_KINDS = frozenset(
    {MessageKind.COORDINATOR, MessageKind.KEYWORD_REPLY, MessageKind.STAFF_ALERT}
)
# How often held work looks again (a decision also releases it at once).
REVIEW_RECHECK = timedelta(hours=1)


def _state(session: Session, practice_id: int, phone: str) -> tuple[bool, bool]:
    row = session.execute(
        select(Conversation.opted_out_at, Conversation.opt_out_review_at).where(
            Conversation.practice_id == practice_id, Conversation.phone == phone
        )
    ).first()
    if row is None:
        return False, False
    return row[0] is not None, row[1] is not None


def opt_out_review_pending(session: Session, practice_id: int, phone: str) -> bool:
    """True while the number's possible opt-out waits for a coordinator's decision."""
    opted_out, review = _state(session, practice_id, phone)
    return review and not opted_out


def contact_paused(session: Session, practice_id: int, phone: str) -> bool:
    """True when nothing automated may reach this number: it opted out, or a possible opt-out
    waits for review. Texts a person sends from the inbox are judged by ``send_sms``."""
    opted_out, review = _state(session, practice_id, phone)
    return opted_out or review


def flag_possible_opt_out(session: Session, conversation: Conversation, now: datetime) -> bool:
    """Put the thread in the review queue (the inbox shows it); True if newly flagged."""
    conversation.needs_reply = True
    if conversation.opt_out_review_at is not None or conversation.opted_out_at is not None:
        return False
    conversation.opt_out_review_at = now
    return True


def possible_opt_outs(session: Session, practice_id: int) -> list[Conversation]:
    """The review queue: threads waiting for "confirm opt-out" or "not an opt-out", oldest first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.practice_id == practice_id,
                Conversation.opt_out_review_at.is_not(None),
                Conversation.opted_out_at.is_(None),
            )
            .order_by(Conversation.opt_out_review_at)
        )
    )


def release_held_texts(session: Session, conversation: Conversation, now: datetime) -> list[int]:
    """The review is over without an opt-out: held texts may go (the delivery job re-checks
    quiet hours). Returns their ids, to enqueue after the commit."""
    conversation.opt_out_review_at = None
    held = session.scalars(
        select(Message).where(
            Message.conversation_id == conversation.id,
            Message.status == MessageStatus.PENDING,
            Message.send_after > now,
        )
    ).all()
    for message in held:
        message.send_after = now
    return [m.id for m in held]
