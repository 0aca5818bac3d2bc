"""Tenancy: practices, their staff, their patients; and the log of Twilio REST requests.

Every row that holds practice data carries ``practice_id``; queries filter on it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db import Base, str_enum, utcnow


class ConsentMode(enum.StrEnum):
    ALL_PARTY = "all_party"
    ONE_PARTY = "one_party"


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    QA_LEAD = "qa_lead"
    ADMIN = "admin"


class Practice(Base):
    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # The Twilio number patients call and text (E.164). The webhook finds the practice by it.
    phone_number: Mapped[str] = mapped_column(String(16), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    hours_spec: Mapped[str] = mapped_column(Text)
    consent_mode: Mapped[ConsentMode] = mapped_column(
        str_enum(ConsentMode), default=ConsentMode.ALL_PARTY
    )
    greeting: Mapped[str | None] = mapped_column(Text)
    # Seconds of after-call work before a coordinator is offered calls again.
    wrap_up_seconds: Mapped[int] = mapped_column(default=60)
    max_wait_seconds: Mapped[int] = mapped_column(default=180)
    manager_phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="practice")

    def greeting_text(self) -> str:
        return self.greeting or f"Thank you for calling {self.name}."


class User(Base):
    """A person who works in the console: coordinator, QA lead or admin (roles per practice)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Softphone client identity (<Client>identity</Client>); letters, digits, '_', '-', '.'.
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A deactivated user cannot log in and every session of theirs has ended.
    deactivated_at: Mapped[datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class LoginSession(Base):
    """One console login (a browser's session cookie names it by a random token, kept here only
    as its SHA-256). Logout ends it; a password change or deactivation ends all of the user's,
    so a copied cookie stops working at once."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "practice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role))
    # Comma-separated skills (e.g. "consultation,existing"); empty means every call.
    skills: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship(back_populates="memberships")
    practice: Mapped[Practice] = relationship(back_populates="memberships")


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("practice_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TwilioRequest(Base):
    """A REST request the product made (sandbox: instead of sending it) to Twilio."""

    __tablename__ = "twilio_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response_sid: Mapped[str | None] = mapped_column(String(34))
    status_code: Mapped[int] = mapped_column(default=0)
    sent: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
