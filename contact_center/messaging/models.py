"""SMS conversations, messages, templates, PHI terms and per-practice texting settings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class MessageDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(enum.StrEnum):
    RECEIVED = "received"  # inbound
    PENDING = "pending"  # outbound, accepted by the send function, waiting for its job
    SENDING = "sending"  # the job is handing it to Twilio
    REPLIED = "replied"  # answered inside the webhook's TwiML (no REST request)
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    REFUSED = "refused"  # the send function's re-check at delivery time said no

    @property
    def rank(self) -> int:
        """Status callbacks only move a message forward (Twilio reorders them)."""
        return _RANK.get(self, 0)


_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.QUEUED: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.REFUSED: 4,
    MessageStatus.REPLIED: 4,
    MessageStatus.RECEIVED: 4,
}


class MessageKind(enum.StrEnum):
    PATIENT = "patient"  # what the patient wrote
    KEYWORD_REPLY = "keyword_reply"  # STOP/START/HELP answers
    ACKNOWLEDGMENT = "acknowledgment"  # instant answer to a first text or a web lead
    MISSED_CALL = "missed_call"
    COORDINATOR = "coordinator"  # a coordinator's reply from the inbox
    REMINDER = "reminder"
    STAFF_ALERT = "staff_alert"  # to the practice's manager, not to a patient
    # A journey's texts, by consent class: care (check-ins, the patient's own visit) and
    # marketing (reactivation, offers; needs written marketing consent, journeys.consent).
    CARE = "care"
    MARKETING = "marketing"


class MessageClass(enum.StrEnum):
    """Which texting rules a message falls under (the caller says; the send function enforces).

    ``care``: an automated text about the patient's own care (reminders, check-ins), sent under
    the TCPA healthcare exemption (47 CFR 64.1200(a)(9)(iv)): at most 160 characters, names the
    practice, carries the opt-out line, at most 1 a day and 3 a week per patient across every
    sequence. ``conversation``: a person's text, or an answer to what the patient just sent.
    ``marketing``: offers and reactivation, which need the patient's written marketing consent.
    ``internal``: to the practice's own staff.
    """

    CARE = "care"
    CONVERSATION = "conversation"
    MARKETING = "marketing"
    INTERNAL = "internal"


class Conversation(Base):
    """One thread per practice and patient number; it also holds the number's opt-out state."""

    __tablename__ = "sms_conversations"
    __table_args__ = (UniqueConstraint("practice_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(16))
    # Set by the STOP family, cleared by START: while set, nothing is sent to this number.
    opted_out_at: Mapped[datetime | None] = mapped_column()
    # Set when the patient's text may be an opt-out ("wrong number", "stop" in a sentence):
    # automated texts and every call pause until a person confirms or clears it.
    opt_out_review_at: Mapped[datetime | None] = mapped_column()
    # The coordinators' inbox: a patient wrote and nobody has answered yet.
    needs_reply: Mapped[bool] = mapped_column(default=False)
    last_message_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "sms_messages"
    # The healthcare caps count a patient's care texts (messaging.care).
    __table_args__ = (
        Index("ix_sms_messages_conversation_class", "conversation_id", "message_class"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("sms_conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection))
    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind))
    message_class: Mapped[MessageClass] = mapped_column(
        str_enum(MessageClass), default=MessageClass.CONVERSATION
    )
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus), index=True)
    message_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    # One message per business event (e.g. "lead-ack:12", "missed-call:7"), however often asked.
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # Unsolicited texts (not a direct reply) wait out the patient's quiet hours, re-checked
    # when the job finally sends them.
    unsolicited: Mapped[bool] = mapped_column(default=False)
    send_after: Mapped[datetime | None] = mapped_column()
    error_code: Mapped[str | None] = mapped_column(String(16))
    refused_reason: Mapped[str | None] = mapped_column(Text)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    status_at: Mapped[datetime | None] = mapped_column()


class SmsTemplate(Base):
    """A practice's text with placeholders; checked for PHI terms when saved and when sent."""

    __tablename__ = "sms_templates"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PhiTerm(Base):
    """A term a practice adds to the built-in list of words a text must never contain."""

    __tablename__ = "sms_phi_terms"
    __table_args__ = (UniqueConstraint("practice_id", "term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    term: Mapped[str] = mapped_column(String(80))


class MessagingSettings(Base):
    """Per-practice texting settings; a practice without a row uses the defaults."""

    __tablename__ = "messaging_settings"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    acknowledgment: Mapped[str | None] = mapped_column(Text)
    after_hours_acknowledgment: Mapped[str | None] = mapped_column(Text)
    missed_call_text: Mapped[str | None] = mapped_column(Text)
    booking_link: Mapped[str | None] = mapped_column(String(255))
    contact: Mapped[str | None] = mapped_column(String(255))
    # Text the manager number when a callback task breaches its SLA.
    alert_manager_on_breach: Mapped[bool] = mapped_column(default=False)
