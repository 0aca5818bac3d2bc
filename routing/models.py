"""Coordinator presence, the inbound queue per practice, and callback tasks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class PresenceState(enum.StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"

    @property
    def staffed(self) -> bool:
        """Signed in and working calls (a caller put in the queue will be served)."""
        return self in _STAFFED


_STAFFED = {
    PresenceState.AVAILABLE,
    PresenceState.RESERVED,
    PresenceState.ON_CALL,
    PresenceState.WRAP_UP,
}


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
    # After-call work ends by itself at this time (the coordinator may extend it).
    wrap_up_until: Mapped[datetime | None] = mapped_column()


class PresenceChange(Base):
    """Append-only history of presence: who was in which state when, and why."""

    __tablename__ = "presence_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[PresenceState] = mapped_column(str_enum(PresenceState))
    # manual, heartbeat_timeout, reservation_expired, ring_no_answer, wrap_up_end, call, ...
    reason: Mapped[str] = mapped_column(String(32))
    call_sid: Mapped[str | None] = mapped_column(String(34))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class QueueStatus(enum.StrEnum):
    WAITING = "waiting"  # on hold in the practice queue
    ASSIGNED = "assigned"  # a coordinator is reserved; the caller is being connected
    ANSWERED = "answered"  # the coordinator picked up
    CALLBACK = "callback"  # hung up asking for a callback; the entry keeps the caller's place
    CALLBACK_DUE = "callback_due"  # reached the head of the queue: the callback task is open
    VOICEMAIL = "voicemail"  # left the queue to leave a message
    ABANDONED = "abandoned"  # hung up while waiting

    @property
    def in_line(self) -> bool:
        return self in (QueueStatus.WAITING, QueueStatus.CALLBACK)


class QueueEntry(Base):
    """One inbound call's place in its practice's line, from arrival to answer or exit.

    Every call that asks for a coordinator gets one (those rung at once too), so its id is the
    arrival order within the practice: entries are created under the practice's routing lock.
    """

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_entries_line", "practice_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    call_sid: Mapped[str] = mapped_column(String(34), unique=True)
    # The menu choice when the practice maps it to a skill; None: any coordinator.
    skill: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[QueueStatus] = mapped_column(str_enum(QueueStatus))
    enqueued_at: Mapped[datetime] = mapped_column()
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime | None] = mapped_column()
    # When the REST redirect to the assigned coordinator was sent (None: still to do).
    redirected_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    left_at: Mapped[datetime | None] = mapped_column()
    wait_seconds: Mapped[int | None] = mapped_column()
    # Times a coordinator was offered this caller (ring no-answer puts them back in line).
    offers: Mapped[int] = mapped_column(default=0)
    # Times the caller was offered voicemail or a callback after the practice's maximum wait.
    overflow_offers: Mapped[int] = mapped_column(default=0)
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="SET NULL")
    )


class CallbackReason(enum.StrEnum):
    AFTER_HOURS = "after_hours"
    NO_COORDINATOR = "no_coordinator"
    VOICEMAIL = "voicemail"
    MISSED_CALL = "missed_call"
    QUEUE_CALLBACK = "queue_callback"
    LEAD = "lead"
    SMS = "sms"
    RESCHEDULE = "reschedule"  # the patient answered a reminder with R
    JOURNEY = "journey"  # a follow-up journey's call step (journeys.runner)


class CallbackStatus(enum.StrEnum):
    # A queued callback still holding the caller's place in line: not to be dialed yet.
    HELD = "held"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELED = "canceled"


OPEN_TASK = "status IN ('held', 'open', 'in_progress')"


class CallbackTask(Base):
    """Somebody must call this patient back, by ``sla_deadline``.

    One patient has one outreach per practice: at most one task per (practice, number) is held,
    open or in progress (a partial unique index, the final guard); a new reason to call the
    patient joins it as a ``CallbackTaskReason``.
    """

    __tablename__ = "callback_tasks"
    __table_args__ = (
        Index(
            "uq_callback_tasks_open_per_number",
            "practice_id",
            "phone",
            unique=True,
            postgresql_where=text(OPEN_TASK),
            sqlite_where=text(OPEN_TASK),
        ),
        Index(
            "ix_callback_tasks_sla_unchecked",
            "sla_deadline",
            postgresql_where=text("sla_checked_at IS NULL"),
            sqlite_where=text("sla_checked_at IS NULL"),
        ),
    )

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
    # When the SLA watch looked at the task after its deadline (breach or not): never again.
    sla_checked_at: Mapped[datetime | None] = mapped_column()


class CallbackTaskReason(Base):
    """Why a patient is being called back: one row per reason that joined the task (the task's
    own ``reason`` is the first). One row per source call, however often Twilio replays it."""

    __tablename__ = "callback_task_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[CallbackReason] = mapped_column(str_enum(CallbackReason))
    source_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), unique=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
