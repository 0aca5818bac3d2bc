"""Leads, the practice API keys that post them, and stored Idempotency-Key results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, utcnow


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    source: Mapped[str | None] = mapped_column(String(80))
    message: Mapped[str | None] = mapped_column(Text)
    sms_consent: Mapped[bool] = mapped_column(default=False)
    consent_wording: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiKey(Base):
    """A practice's key for the leads API. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(12))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class IdempotentRequest(Base):
    """The first answer to a practice's Idempotency-Key, replayed for every repeat."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("practice_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request body: the same key with another body is a client error.
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column()
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadGuardSettings(Base):
    """A practice's protection of its public lead form (no row: the defaults in leads.guard)."""

    __tablename__ = "lead_guard_settings"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    # ISO 3166 regions a lead's number may be in, comma-separated ("US,CA").
    allowed_countries: Mapped[str] = mapped_column(String(200))
    # Limits in the limits library's notation, e.g. "20/minute;200/day".
    per_key_limit: Mapped[str] = mapped_column(String(100))
    per_address_limit: Mapped[str] = mapped_column(String(100))
    per_destination_limit: Mapped[str] = mapped_column(String(100))
    # A surge: more leads in the last hour than both this number and ``surge_factor`` times the
    # practice's hourly average of the past week.
    surge_min_leads: Mapped[int] = mapped_column()
    surge_factor: Mapped[int] = mapped_column()


class RefusedLead(Base):
    """A lead the API refused (destination rules or rate limits), for the practice to see."""

    __tablename__ = "refused_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(40))
    status_code: Mapped[int] = mapped_column()
    phone: Mapped[str | None] = mapped_column(String(40))
    client_address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str] = mapped_column(String(255))


class LeadSurge(Base):
    """A jump in a practice's lead rate (SMS pumping looks like this), shown until acknowledged;
    the manager may be texted about it."""

    __tablename__ = "lead_surges"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    detected_at: Mapped[datetime] = mapped_column()
    leads_last_hour: Mapped[int] = mapped_column()
    baseline_per_hour: Mapped[float] = mapped_column()
    alert_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column()
