"""Coordinator presence and callback tasks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class PresenceState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class Presence(Base):
    """A coordinator's state across all their practices (one person, one phone)."""

    __tablename__ = "presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[PresenceState] = mapped_column(
        str_enum(PresenceState), default=PresenceState.OFFLINE
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Longest idle first: when the coordinator last became free for calls.
    idle_since: Mapped[datetime | None] = mapped_column()
    # The call the coordinator is reserved for or on.
    call_sid: Mapped[str | None] = mapped_column(String(34))
    heartbeat_at: Mapped[datetime | None] = mapped_column()


class CallbackReason(enum.StrEnum):
    AFTER_HOURS = "after_hours"
    NO_COORDINATOR = "no_coordinator"
    VOICEMAIL = "voicemail"
    MISSED_CALL = "missed_call"
    QUEUE_CALLBACK = "queue_callback"
    LEAD = "lead"
    SMS = "sms"


class CallbackStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELED = "canceled"


class CallbackTask(Base):
    """Somebody must call this patient back, by ``sla_deadline``."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(16))
    reason: Mapped[CallbackReason] = mapped_column(str_enum(CallbackReason))
    # One callback task per source call, however often Twilio replays the webhook.
    source_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[CallbackStatus] = mapped_column(
        str_enum(CallbackStatus), default=CallbackStatus.OPEN
    )
    due_at: Mapped[datetime] = mapped_column(index=True)
    sla_deadline: Mapped[datetime] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
