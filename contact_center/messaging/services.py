"""Conversations, opt-out state and THE send function every outbound text goes through.

``send_sms`` refuses opted-out numbers (``SmsRefused``) and PHI terms (``PhiInText``), holds
automated texts to a number whose possible opt-out waits for review (``pause``); anything
that is not a direct reply to what the patient just sent waits out the patient's quiet hours (or
is refused, for a sender who is waiting on the answer). Automated healthcare texts
(``MessageClass.CARE``: reminders, check-ins) must also keep the healthcare texting rules
(``messaging.care``: 160 characters, the practice named, the opt-out line, 1 a day and 3 a week per
patient); marketing texts are refused until a written marketing consent can be recorded. It only
writes a ``pending`` message; the ``deliver_message`` job hands it to Twilio after the commit,
re-checking everything first, so a STOP that lands in between still wins.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contact_center.errors import DomainError, NotFound
from contact_center.messaging import care, pause, phi, quiet_hours
from contact_center.messaging.models import (
    Conversation,
    Message,
    MessageClass,
    MessageDirection,
    MessageKind,
    MessageStatus,
    MessagingSettings,
)
from contact_center.messaging.pause import (  # re-exported: "may we contact this number?"
    contact_paused as contact_paused,
)
from contact_center.models import Practice

logger = logging.getLogger(__name__)

# Longer than a delivery job may run (its timeout is 60 s): a text still ``sending`` after this
# belongs to a worker that died.
STALE_SENDING = timedelta(minutes=2)

# A coordinator's text within this long of the patient's last message is a direct reply.
REPLY_WINDOW = timedelta(hours=1)
STATUS_CALLBACK = "/twilio/sms/status"


class SmsRefused(DomainError):
    """The send function will not text this number (opted out, or quiet hours for a sender
    who asked to be refused rather than deferred)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class OnQuiet(enum.StrEnum):
    DEFER = "defer"  # jobs: wait for the next allowed minute
    REFUSE = "refuse"  # a person sending by hand: tell them now


@dataclass(frozen=True)
class OutboundSms:
    """What the delivery job hands to Twilio."""

    message_id: int
    to: str
    from_: str
    body: str


# --- conversations and opt-out -----------------------------------------------------------


def find_conversation(session: Session, practice_id: int, phone: str) -> Conversation | None:
    return session.scalars(
        select(Conversation).where(
            Conversation.practice_id == practice_id, Conversation.phone == phone
        )
    ).one_or_none()


def conversation_for(
    session: Session, practice_id: int, phone: str, now: datetime, patient_id: int | None = None
) -> Conversation:
    """The practice's thread with this number, created on first contact (race-safe)."""
    conversation = find_conversation(session, practice_id, phone)
    if conversation is None:
        conversation = Conversation(
            practice_id=practice_id, phone=phone, patient_id=patient_id, created_at=now
        )
        try:
            with session.begin_nested():
                session.add(conversation)
        except IntegrityError:  # a concurrent webhook created it first
            conversation = find_conversation(session, practice_id, phone)
            assert conversation is not None
    if patient_id is not None and conversation.patient_id is None:
        conversation.patient_id = patient_id
    return conversation


def is_opted_out(session: Session, practice_id: int, phone: str) -> bool:
    opted = session.scalars(
        select(Conversation.opted_out_at).where(
            Conversation.practice_id == practice_id, Conversation.phone == phone
        )
    ).first()
    return opted is not None


def set_opt_out(
    session: Session, conversation: Conversation, opted_out: bool, now: datetime
) -> bool:
    """Opt the number out of (or back into) the practice's texts; True if the state changed."""
    if (conversation.opted_out_at is not None) == opted_out:
        return False
    conversation.opted_out_at = now if opted_out else None
    conversation.opt_out_review_at = None  # the patient decided: no review pending
    if opted_out:
        # Nothing already waiting may go out after a STOP.
        for message in session.scalars(
            select(Message).where(
                Message.conversation_id == conversation.id,
                Message.status == MessageStatus.PENDING,
            )
        ):
            message.status = MessageStatus.REFUSED
            message.refused_reason = "opted_out"
            message.status_at = now
    return True


def settings_for(session: Session, practice_id: int) -> MessagingSettings:
    """The practice's texting settings (defaults when it never saved any)."""
    row = session.get(MessagingSettings, practice_id)
    return row or MessagingSettings(practice_id=practice_id, alert_manager_on_breach=False)


# --- the send function -------------------------------------------------------------------


def default_class(kind: MessageKind) -> MessageClass:
    """The rules a kind of text falls under when its caller does not say."""
    if kind in (MessageKind.REMINDER, MessageKind.CARE):
        return MessageClass.CARE
    if kind is MessageKind.MARKETING:
        return MessageClass.MARKETING
    if kind is MessageKind.STAFF_ALERT:
        return MessageClass.INTERNAL
    return MessageClass.CONVERSATION


def _refuse(
    session: Session,
    practice: Practice,
    conversation: Conversation,
    kind: MessageKind,
    message_class: MessageClass,
    body: str,
    reason: str,
    detail: str,
    now: datetime,
) -> SmsRefused:
    """Keep the refused text in the thread with its reason (visible to the practice)."""
    session.add(
        Message(
            practice_id=practice.id,
            conversation_id=conversation.id,
            direction=MessageDirection.OUTBOUND,
            kind=kind,
            message_class=message_class,
            body=body,
            status=MessageStatus.REFUSED,
            refused_reason=f"{reason}: {detail}",
            created_at=now,
            status_at=now,
        )
    )
    session.flush()
    logger.info("sms refused practice_id=%s reason=%s", practice.id, reason)
    return SmsRefused(detail, reason)


def send_sms(
    session: Session,
    practice: Practice,
    phone: str,
    body: str,
    kind: MessageKind,
    now: datetime,
    *,
    direct_reply: bool = False,
    on_quiet: OnQuiet = OnQuiet.DEFER,
    dedupe_key: str | None = None,
    sent_by_id: int | None = None,
    in_twiml: bool = False,
    message_class: MessageClass | None = None,
    marketing_consent: bool = False,
) -> Message:
    """Accept one outbound text for ``phone`` from ``practice``: the only way anything is texted.

    ``message_class`` says which rules apply (default: ``default_class(kind)``); a marketing
    text goes only with ``marketing_consent`` (the caller found the patient's written marketing
    consent in the consent ledger, ``journeys.consent``). Raises
    ``SmsRefused`` (opted out; quiet hours with ``OnQuiet.REFUSE``; a care text breaking a
    healthcare rule, reason ``care_*``; marketing) and ``phi.PhiInText``. Care and marketing
    refusals are also kept in the thread as ``refused`` messages with their reason. A
    ``dedupe_key`` seen before returns that message. With ``in_twiml`` the text is answered
    inside the webhook's TwiML (status ``replied``); otherwise the message is ``pending`` and the
    caller enqueues ``deliver_message`` after its commit (at ``send_after``).
    """
    message_class = message_class or default_class(kind)
    if dedupe_key is not None:
        existing = session.scalars(select(Message).where(Message.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return existing
    if is_opted_out(session, practice.id, phone):
        raise SmsRefused(f"{phone} has opted out of texts from {practice.name}", "opted_out")
    held = kind not in pause.PERSON_KINDS and pause.contact_paused(session, practice.id, phone)
    if held and (on_quiet is OnQuiet.REFUSE or in_twiml):
        raise SmsRefused(
            f"{phone} may have asked to stop: a coordinator must decide first", "opt_out_review"
        )
    phi.check_phi(session, practice.id, body, allowed=practice.name)
    # A held text is no longer a reply when it finally goes, and a care text is automated, never
    # a reply: both wait out quiet hours.
    unsolicited = (
        held
        or message_class is MessageClass.CARE
        or (not direct_reply and message_class is not MessageClass.INTERNAL)
    )
    send_after = now + pause.REVIEW_RECHECK if held else None
    where = practice.phone_number
    if unsolicited and quiet_hours.is_quiet(phone, practice.timezone, now, practice_number=where):
        allowed = quiet_hours.next_allowed(phone, practice.timezone, now, practice_number=where)
        if on_quiet is OnQuiet.REFUSE:
            raise SmsRefused(
                f"quiet hours for {phone} until {allowed:%Y-%m-%d %H:%M} UTC; "
                "texts that are not a reply wait until then",
                "quiet_hours",
            )
        send_after = max(allowed, send_after or allowed)
    conversation = conversation_for(session, practice.id, phone, now)
    breach = None
    if message_class is MessageClass.MARKETING and not marketing_consent:
        breach = care.Breach(
            "marketing_consent_required",
            "marketing texts need the patient's written marketing consent",
        )
    elif message_class is MessageClass.CARE:
        breach = care.content_breach(practice.name, body)
        if breach is None:
            care.lock_conversation(session, conversation.id)
            breach = care.cap_breach(
                session, conversation.id, phone, practice.timezone, send_after or now
            )
    if breach is not None:
        raise _refuse(
            session,
            practice,
            conversation,
            kind,
            message_class,
            body,
            breach.reason,
            breach.detail,
            now,
        )
    message = Message(
        practice_id=practice.id,
        conversation_id=conversation.id,
        direction=MessageDirection.OUTBOUND,
        kind=kind,
        message_class=message_class,
        body=body,
        status=MessageStatus.REPLIED if in_twiml else MessageStatus.PENDING,
        dedupe_key=dedupe_key,
        unsolicited=unsolicited,
        send_after=send_after,
        sent_by_id=sent_by_id,
        created_at=now,
        sent_at=now if in_twiml else None,
    )
    session.add(message)
    conversation.last_message_at = now
    if kind is MessageKind.COORDINATOR:
        conversation.needs_reply = False
    session.flush()
    return message


def reply_from_coordinator(
    session: Session, conversation_id: int, user_id: int, body: str, now: datetime
) -> Message:
    """A coordinator answers a thread from the inbox. Refusals raise (the coordinator sees them):
    opted out, PHI, or quiet hours when the patient's last text is not recent."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    practice = session.get_one(Practice, conversation.practice_id)
    last_inbound = session.scalars(
        select(Message.created_at)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == MessageDirection.INBOUND,
        )
        .order_by(Message.created_at.desc())
        .limit(1)
    ).first()
    direct = last_inbound is not None and now - last_inbound <= REPLY_WINDOW
    return send_sms(
        session,
        practice,
        conversation.phone,
        body,
        MessageKind.COORDINATOR,
        now,
        direct_reply=direct,
        on_quiet=OnQuiet.REFUSE,
        sent_by_id=user_id,
    )


# --- delivery (the job's two halves) ----------------------------------------------------


def claim_for_delivery(session: Session, message_id: int, now: datetime) -> OutboundSms | None:
    """Lock a pending message and re-check it; None when there is nothing to send now.

    A number that opted out since, or a PHI term added since, turns it ``refused``; an
    unsolicited text whose moment fell into quiet hours waits (``send_after`` moves on).
    """
    query = select(Message).where(Message.id == message_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    message = session.scalars(query).one_or_none()
    if message is None or message.status is not MessageStatus.PENDING:
        return None
    if message.send_after is not None and message.send_after > now:
        return None
    conversation = session.get_one(Conversation, message.conversation_id)
    practice = session.get_one(Practice, message.practice_id)
    refusal = None
    if conversation.opted_out_at is not None:
        refusal = "opted_out"
    else:
        try:
            phi.check_phi(session, practice.id, message.body, allowed=practice.name)
        except phi.PhiInText as exc:
            refusal = str(exc)
    if (
        refusal is None
        and message.kind not in pause.PERSON_KINDS
        and conversation.opt_out_review_at
    ):
        message.send_after = now + pause.REVIEW_RECHECK  # a possible opt-out: a person decides
        return None
    if refusal is not None:
        message.status = MessageStatus.REFUSED
        message.refused_reason = refusal
        message.status_at = now
        logger.warning("sms refused at delivery message_id=%s reason=%s", message.id, refusal)
        return None
    phone, where = conversation.phone, practice.phone_number
    if message.unsolicited and quiet_hours.is_quiet(
        phone, practice.timezone, now, practice_number=where
    ):
        message.send_after = quiet_hours.next_allowed(
            phone, practice.timezone, now, practice_number=where
        )
        return None
    if message.message_class is MessageClass.CARE:
        # Its moment may have moved (quiet hours): the caps hold for when it really goes out.
        care.lock_conversation(session, conversation.id)
        breach = care.cap_breach(
            session, conversation.id, conversation.phone, practice.timezone, now, message.id
        )
        if breach is not None:
            message.status = MessageStatus.REFUSED
            message.refused_reason = f"{breach.reason}: {breach.detail}"
            message.status_at = now
            logger.warning(
                "sms refused at delivery message_id=%s reason=%s", message.id, breach.reason
            )
            return None
    message.status = MessageStatus.SENDING
    message.status_at = now
    return OutboundSms(message.id, conversation.phone, practice.phone_number, message.body)


def mark_handed_over(session: Session, message_id: int, message_sid: str, now: datetime) -> None:
    message = session.get_one(Message, message_id)
    message.message_sid = message_sid
    if message.status is MessageStatus.SENDING:  # a fast status callback may have moved it on
        message.status = MessageStatus.QUEUED
    message.sent_at = now
    message.status_at = message.status_at or now


def stale_sending(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Messages left ``sending`` with no SID for longer than any delivery job runs: the worker
    died during the REST request, or before it recorded Twilio's answer."""
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.status == MessageStatus.SENDING,
                Message.message_sid.is_(None),
                Message.status_at < now - STALE_SENDING,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def stale_delivery(
    session: Session, message_id: int, now: datetime
) -> tuple[OutboundSms, datetime] | None:
    """The text a dead worker was sending and when it started, if the message is still stale
    (else None: a status callback or another recovery got there first)."""
    message = session.get(Message, message_id)
    if (
        message is None
        or message.status is not MessageStatus.SENDING
        or message.message_sid is not None
        or message.status_at is None
        or message.status_at >= now - STALE_SENDING
    ):
        return None
    conversation = session.get_one(Conversation, message.conversation_id)
    practice = session.get_one(Practice, message.practice_id)
    outbound = OutboundSms(message.id, conversation.phone, practice.phone_number, message.body)
    return outbound, message.status_at


def release_after_error(session: Session, message_id: int) -> None:
    """Twilio did not take the message: back to pending, so the retry sends it."""
    message = session.get_one(Message, message_id)
    if message.status is MessageStatus.SENDING and message.message_sid is None:
        message.status = MessageStatus.PENDING


def apply_status(
    session: Session, message_sid: str, status: str, error_code: str | None, now: datetime
) -> bool:
    """A message status callback: forward-only and idempotent. True when the status moved."""
    message = session.scalars(select(Message).where(Message.message_sid == message_sid)).first()
    if message is None:
        logger.warning("status for unknown message message_sid=%s", message_sid)
        return False
    try:
        new = MessageStatus(status)
    except ValueError:
        return False  # accepted, scheduled, read...: nothing we track
    if error_code and not message.error_code:
        message.error_code = error_code[:16]
    if new.rank <= message.status.rank:
        return False
    message.status = new
    message.status_at = now
    return True


def pending_due(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Pending messages whose moment has come (the reconciler re-enqueues these)."""
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.status == MessageStatus.PENDING,
                (Message.send_after.is_(None)) | (Message.send_after <= now),
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


# --- inbound -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    conversation: Conversation
    message: Message
    duplicate: bool  # Twilio retried the webhook: already stored
    first: bool  # the first message of this thread


def record_inbound(
    session: Session,
    practice_id: int,
    phone: str,
    body: str,
    message_sid: str,
    now: datetime,
    patient_id: int | None = None,
) -> Inbound:
    """Thread an incoming text into its conversation, once per MessageSid."""
    conversation = conversation_for(session, practice_id, phone, now, patient_id)
    existing = session.scalars(select(Message).where(Message.message_sid == message_sid)).first()
    if existing is not None:
        return Inbound(conversation, existing, duplicate=True, first=False)
    earlier = session.scalars(
        select(Message.id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == MessageDirection.INBOUND,
        )
        .limit(1)
    ).first()
    message = Message(
        practice_id=practice_id,
        conversation_id=conversation.id,
        direction=MessageDirection.INBOUND,
        kind=MessageKind.PATIENT,
        body=body,
        status=MessageStatus.RECEIVED,
        message_sid=message_sid,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same retry, concurrently
        existing = session.scalars(select(Message).where(Message.message_sid == message_sid)).one()
        return Inbound(conversation, existing, duplicate=True, first=False)
    conversation.last_message_at = now
    return Inbound(conversation, message, duplicate=False, first=earlier is None)


def inbox(session: Session, practice_id: int) -> list[Conversation]:
    """Threads waiting for a coordinator's answer, oldest first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.practice_id == practice_id, Conversation.needs_reply.is_(True))
            .order_by(Conversation.last_message_at)
        )
    )
