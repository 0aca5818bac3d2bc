"""The outbound callback dialer: per-practice cadence settings, attempts, SLA breaches.

An attempt is a state machine, one row per (task, attempt number), so a patient is never dialed
twice for the same attempt:

    scheduled -> claimed (coordinator reserved, REST request about to go)
              -> ringing (coordinator's softphone leg created)
              -> bridging (coordinator answered; the patient is dialed, once)
              -> done (outcome) | canceled
    claimed/ringing -> scheduled again when the coordinator does not answer or the job died;
    each claim gets a fresh ``token``, so a leg left over from an earlier claim cannot bridge.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow

DEFAULT_CADENCE = "now, 5m, 1h, morning, 1d"
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_SLA_MINUTES = 5
# Attempts across all reasons per patient per rolling 24 hours (Florida's limit for sales
# calls, Fla. Stat. 501.059(8)(b)); a practice may lower it, never raise it.
DAILY_CAP = 3


class AttemptState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    RINGING = "ringing"
    BRIDGING = "bridging"
    DONE = "done"
    CANCELED = "canceled"


class AttemptOutcome(enum.StrEnum):
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    FAILED = "failed"
    CANCELED = "canceled"


class DialerSettings(Base):
    """A practice's callback cadence and SLA; a practice without a row uses the defaults."""

    __tablename__ = "dialer_settings"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    # Comma-separated delays between attempts: now, 5m, 1h, 2d, morning (next morning).
    cadence: Mapped[str] = mapped_column(String(120), default=DEFAULT_CADENCE)
    max_attempts: Mapped[int] = mapped_column(default=DEFAULT_MAX_ATTEMPTS)
    sla_minutes: Mapped[int] = mapped_column(default=DEFAULT_SLA_MINUTES)
    daily_cap: Mapped[int] = mapped_column(default=DAILY_CAP, server_default=str(DAILY_CAP))


class CallbackAttempt(Base):
    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("task_id", "attempt_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True
    )
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    attempt_no: Mapped[int] = mapped_column()
    state: Mapped[AttemptState] = mapped_column(str_enum(AttemptState), index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    # Changes with every claim: the reservation key ("DL" + token) and the webhook URLs carry it.
    token: Mapped[str | None] = mapped_column(String(32))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    coordinator_call_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    # How often a coordinator was rung for this attempt (no answer: the next one is tried).
    tries: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column()
    dialed_at: Mapped[datetime | None] = mapped_column()
    patient_dialed_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[AttemptOutcome | None] = mapped_column(str_enum(AttemptOutcome))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaBreach(Base):
    """A callback task nobody started by its deadline (one per task)."""

    __tablename__ = "sla_breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="CASCADE"), unique=True
    )
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    deadline: Mapped[datetime] = mapped_column()
    detected_at: Mapped[datetime] = mapped_column()
    alert_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column()
