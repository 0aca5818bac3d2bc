"""Reminder rows: the database says which reminder is due and where each one stands.

A reminder is ``scheduled`` with its ``due_at`` (already moved out of the patient's quiet hours);
the send job turns it ``queued`` in the same transaction that hands its text to the send
function (a ``pending`` message, delivered and recovered by messaging's own jobs), or
``skipped`` with a reason; a cancelled or moved appointment turns its waiting reminders
``cancelled``. Each row is for one start time of its appointment (``for_start``), so a move
schedules new rows beside the old ones.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class ReminderStep(enum.StrEnum):
    FIRST = "first"  # default 48 h before
    SECOND = "second"  # default 24 h before, only when not yet confirmed
    MORNING = "morning"  # the morning of, at 8:00 or later in the patient's zone


class ReminderState(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"  # its text was accepted by the send function (message_id)
    SKIPPED = "skipped"  # with a reason: confirmed, moment passed, refused by a texting rule
    CANCELLED = "cancelled"  # the appointment was cancelled or moved


class Reminder(Base):
    __tablename__ = "appointment_reminders"
    __table_args__ = (
        UniqueConstraint("appointment_id", "step", "for_start"),
        Index("ix_appointment_reminders_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[ReminderStep] = mapped_column(str_enum(ReminderStep))
    for_start: Mapped[datetime] = mapped_column()
    # The step's own moment (e.g. start - 48 h) and when it may go (out of quiet hours).
    nominal_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[ReminderState] = mapped_column(str_enum(ReminderState))
    reason: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_at: Mapped[datetime | None] = mapped_column()


class ReminderSettings(Base):
    """A practice's reminder sequence; a practice without a row uses the defaults."""

    __tablename__ = "reminder_settings"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    first_hours_before: Mapped[int | None] = mapped_column(default=48)  # None: no first
    second_hours_before: Mapped[int | None] = mapped_column(default=24)
    second_only_unconfirmed: Mapped[bool] = mapped_column(default=True)
    morning_of: Mapped[bool] = mapped_column(default=True)
    morning_hour: Mapped[int] = mapped_column(default=8)  # patient's local hour, >= 8
    # Links in reschedule texts stay valid this long.
    link_hours: Mapped[int] = mapped_column(default=72)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
