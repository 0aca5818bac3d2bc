"""Appointments: the practice's services and providers, appointments and every change to them.

Statuses use the FHIR R4 Appointment vocabulary. One provider's held appointments (pending,
booked, arrived) never overlap: on PostgreSQL an exclusion constraint on
``tstzrange(start_at, end_at)`` per provider decides (migration 0020, needs ``btree_gist``); on
SQLite (first run and demos only) a partial unique index on (provider, start) plus the booking
service's check under SQLite's single writer do.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db import Base, str_enum, utcnow


class ServiceKind(enum.StrEnum):
    CONSULTATION = "consultation"
    TREATMENT = "treatment"
    FOLLOW_UP = "follow_up"

    @property
    def label(self) -> str:
        """The word a calendar or a text may show: the kind, never the treatment's name."""
        return {"consultation": "Consultation", "treatment": "Treatment"}.get(
            self.value, "Follow-up"
        )


class AppointmentStatus(enum.StrEnum):
    """FHIR R4 Appointment.status."""

    PROPOSED = "proposed"
    PENDING = "pending"
    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"
    ENTERED_IN_ERROR = "entered-in-error"

    @property
    def holds_slot(self) -> bool:
        return self in HELD


HELD = frozenset({AppointmentStatus.PENDING, AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED})
# SQL for "holds its slot", shared by the partial index here and the migration's constraint.
HELD_SQL = "status IN ('pending', 'booked', 'arrived')"


class AppointmentSource(enum.StrEnum):
    CALL = "call"
    TEXT = "text"
    LEAD = "lead"
    CONSOLE = "console"
    CALENDAR = "calendar"


class Service(Base):
    """One entry of the practice's list of what it books (its name is never sent by text)."""

    __tablename__ = "appointment_services"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    duration_minutes: Mapped[int] = mapped_column(default=30)
    kind: Mapped[ServiceKind] = mapped_column(str_enum(ServiceKind))
    needs_checkin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class Provider(Base):
    """Someone patients are booked with; working hours in the practice's hours syntax."""

    __tablename__ = "appointment_providers"
    __table_args__ = (UniqueConstraint("practice_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    # "mon-fri 09:00-17:00" (contact_center.hours); None means the practice's hours.
    hours_spec: Mapped[str | None] = mapped_column(Text)
    # The secret in the provider's iCalendar feed URL (/calendar/<token>.ics); None: no feed.
    feed_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # SQLite's guard (PostgreSQL also has the exclusion constraint, see the migration).
        Index(
            "uq_appointments_held_slot",
            "provider_id",
            "start_at",
            unique=True,
            sqlite_where=text(HELD_SQL),
            postgresql_where=text(HELD_SQL),
        ),
        Index("ix_appointments_practice_start", "practice_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("appointment_services.id"))
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment_providers.id", ondelete="SET NULL")
    )
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    location: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[AppointmentSource] = mapped_column(str_enum(AppointmentSource))
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    status: Mapped[AppointmentStatus] = mapped_column(str_enum(AppointmentStatus))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Any change the calendar must learn about bumps updated_at; the calendar is up to date
    # when calendar_synced_at >= updated_at (the reconciler's test).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    calendar_uid: Mapped[str | None] = mapped_column(String(255), unique=True)
    calendar_synced_at: Mapped[datetime | None] = mapped_column()
    calendar_error: Mapped[str | None] = mapped_column(Text)

    service: Mapped[Service] = relationship()
    provider: Mapped[Provider | None] = relationship()

    @property
    def in_calendar(self) -> bool:
        return self.calendar_synced_at is not None and self.calendar_synced_at >= self.updated_at


class AppointmentChange(Base):
    """One change to an appointment: who, when, from what to what. Append-only."""

    __tablename__ = "appointment_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who, in words, when no user did it: "patient", "calendar", "system".
    by: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[AppointmentStatus | None] = mapped_column(str_enum(AppointmentStatus))
    to_status: Mapped[AppointmentStatus] = mapped_column(str_enum(AppointmentStatus))
    from_start: Mapped[datetime | None] = mapped_column()
    to_start: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)


class CalendarConnection(Base):
    """A practice's calendar of record over CalDAV; the password is stored encrypted."""

    __tablename__ = "calendar_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(500))
    username: Mapped[str] = mapped_column(String(200), default="")
    # AES-GCM under a key derived from RECORDINGS_KEY (appointments.secrets); base64 text.
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    # The calendar collection, e.g. "/glow/appointments/"; empty: the principal's first one.
    calendar_path: Mapped[str] = mapped_column(String(500), default="")
    busy_synced_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class CalendarBusy(Base):
    """A busy time read from the practice's calendar (not one of our own events)."""

    __tablename__ = "calendar_busy"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    # None: the whole practice is busy; else only that provider (the event names them).
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment_providers.id", ondelete="CASCADE")
    )
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    event_uid: Mapped[str] = mapped_column(String(255))
