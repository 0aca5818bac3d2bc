"""The SMS inbox of one practice, read and answered through the messaging feature (no Flask).

Replies go through the one send function (``reply_from_coordinator`` -> ``send_sms``), so its
refusals (opted out, PHI, quiet hours) reach the coordinator as ``DomainError`` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.messaging import services as messaging
from contact_center.messaging.models import Conversation, Message, SmsTemplate
from contact_center.models import Patient
from contact_center.web.queries import patient_name


@dataclass(frozen=True)
class Thread:
    id: int
    phone: str
    name: str | None
    unread: bool
    opted_out: bool
    possible_opt_out: bool
    last_message_at: datetime | None
    preview: str


def threads(session: Session, practice_id: int, limit: int = 200) -> list[Thread]:
    """Conversations waiting for an answer first, then the most recent."""
    rows = session.execute(
        select(Conversation, Patient)
        .outerjoin(Patient, Patient.id == Conversation.patient_id)
        .where(Conversation.practice_id == practice_id)
        .order_by(
            Conversation.opt_out_review_at.is_(None),  # the review queue first
            Conversation.needs_reply.desc(),
            Conversation.last_message_at.desc().nulls_last(),
            Conversation.id.desc(),
        )
        .limit(limit)
    ).all()
    result = []
    for conversation, patient in rows:
        last = session.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id.desc())
            .limit(1)
        ).first()
        result.append(
            Thread(
                conversation.id,
                conversation.phone,
                patient_name(patient),
                conversation.needs_reply,
                conversation.opted_out_at is not None,
                conversation.opt_out_review_at is not None and conversation.opted_out_at is None,
                conversation.last_message_at,
                (last or "")[:90],
            )
        )
    return result


def conversation_in_practice(
    session: Session, practice_id: int, conversation_id: int
) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.practice_id != practice_id:
        raise NotFound("no such conversation")
    return conversation


def messages_of(session: Session, conversation: Conversation) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
        )
    )


def templates_of(session: Session, practice_id: int) -> list[SmsTemplate]:
    return list(
        session.scalars(
            select(SmsTemplate)
            .where(SmsTemplate.practice_id == practice_id)
            .order_by(SmsTemplate.name)
        )
    )


def reply(
    session: Session,
    practice_id: int,
    conversation_id: int,
    user_id: int,
    body: str,
    now: datetime,
) -> Message:
    """Send a coordinator's reply. Raises NotFound for another practice's thread and the send
    function's refusals (``SmsRefused``, ``PhiInText``) unchanged."""
    conversation_in_practice(session, practice_id, conversation_id)
    return messaging.reply_from_coordinator(session, conversation_id, user_id, body.strip(), now)
