"""Calls, their timeline, and the consent ledger (append-only)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class CallStatus(enum.StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """Statuses only move forward: a late 'ringing' never overwrites 'completed'."""
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank == _FINAL


_FINAL = 4
_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    CallStatus.COMPLETED: _FINAL,
    CallStatus.BUSY: _FINAL,
    CallStatus.NO_ANSWER: _FINAL,
    CallStatus.FAILED: _FINAL,
    CallStatus.CANCELED: _FINAL,
}


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MenuChoice(enum.StrEnum):
    CONSULTATION = "consultation"
    EXISTING = "existing"
    OTHER = "other"

    @property
    def spoken(self) -> str:
        return {
            MenuChoice.CONSULTATION: "new consultation",
            MenuChoice.EXISTING: "existing appointment",
            MenuChoice.OTHER: "general question",
        }[self]


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    call_sid: Mapped[str] = mapped_column(String(34), unique=True)  # Twilio retries: the key
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus))
    after_hours: Mapped[bool] = mapped_column(default=False)
    menu_choice: Mapped[MenuChoice | None] = mapped_column(str_enum(MenuChoice))
    # None until the caller answers the consent question (or the practice is one-party).
    recording_allowed: Mapped[bool | None] = mapped_column()
    # The coordinator currently reserved for or talking on this call.
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_s: Mapped[int | None] = mapped_column()


class CallEvent(Base):
    """One step of a call's timeline. ``dedupe_key`` makes replayed callbacks land once."""

    __tablename__ = "call_events"
    __table_args__ = (UniqueConstraint("call_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentKind(enum.StrEnum):
    RECORDING = "recording"
    SMS = "sms"
    # Marketing texts (offers, reactivation): separate written consent, with its wording and
    # source (web_form, intake, keyword); journeys.consent reads and writes it.
    MARKETING = "marketing"


class ConsentRecord(Base):
    """Append-only evidence that a person allowed or refused something. Never updated."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ConsentKind] = mapped_column(str_enum(ConsentKind))
    phone: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), unique=True
    )
    granted: Mapped[bool] = mapped_column()
    # How it was given: dtmf, speech, silence, one_party, keyword, web_form.
    method: Mapped[str] = mapped_column(String(16))
    digits: Mapped[str | None] = mapped_column(String(16))
    speech: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column()
    wording: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
