"""The practice's list of services and providers, and the appointment lists the console shows."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from appointments.models import (
    Appointment,
    AppointmentChange,
    Provider,
    Service,
    ServiceKind,
)
from contact_center.errors import InvalidInput
from contact_center.hours import OpeningHours


def add_service(
    session: Session,
    practice_id: int,
    name: str,
    duration_minutes: int,
    kind: ServiceKind | str,
    *,
    needs_checkin: bool = False,
) -> Service:
    """Add a service to the practice's list. Raises InvalidInput."""
    name = " ".join(name.split())[:120]
    if not name:
        raise InvalidInput("a service needs a name", "name")
    if not 5 <= duration_minutes <= 8 * 60:
        raise InvalidInput("a service lasts 5 minutes to 8 hours", "duration_minutes")
    try:
        kind = ServiceKind(kind)
    except ValueError as error:
        raise InvalidInput(f"unknown kind {kind!r}", "kind") from error
    service = Service(
        practice_id=practice_id,
        name=name,
        duration_minutes=duration_minutes,
        kind=kind,
        needs_checkin=needs_checkin,
        active=True,
    )
    session.add(service)
    session.flush()
    return service


def add_provider(
    session: Session, practice_id: int, name: str, hours: str | None = None, *, feed: bool = True
) -> Provider:
    """Add a provider; ``hours`` in the practice's hours syntax (None: the practice's hours).
    ``feed``: give the provider a secret iCalendar feed URL. Raises InvalidInput."""
    name = " ".join(name.split())[:120]
    if not name:
        raise InvalidInput("a provider needs a name", "name")
    spec = OpeningHours.parse(hours).spec() if hours and hours.strip() else None
    provider = Provider(
        practice_id=practice_id,
        name=name,
        hours_spec=spec,
        feed_token=secrets.token_urlsafe(24) if feed else None,
        active=True,
    )
    session.add(provider)
    session.flush()
    return provider


def services_of(session: Session, practice_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .where(Service.practice_id == practice_id, Service.active.is_(True))
            .order_by(Service.kind, Service.name)
        )
    )


def providers_of(session: Session, practice_id: int) -> list[Provider]:
    return list(
        session.scalars(
            select(Provider)
            .where(Provider.practice_id == practice_id, Provider.active.is_(True))
            .order_by(Provider.name)
        )
    )


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def appointments_between(
    session: Session, practice_id: int, start: datetime, end: datetime
) -> list[Appointment]:
    """The practice's appointments starting in [start, end), every status, by start."""
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.practice_id == practice_id,
                Appointment.start_at >= start,
                Appointment.start_at < end,
            )
            .options(selectinload(Appointment.service), selectinload(Appointment.provider))
            .order_by(Appointment.start_at, Appointment.id)
        )
    )


def appointments_of_patient(
    session: Session, practice_id: int, patient_id: int
) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(Appointment.practice_id == practice_id, Appointment.patient_id == patient_id)
            .options(selectinload(Appointment.service), selectinload(Appointment.provider))
            .order_by(Appointment.start_at.desc())
        )
    )


def appointment_for_call(session: Session, call_id: int) -> Appointment | None:
    return session.scalars(
        select(Appointment).where(Appointment.call_id == call_id).order_by(Appointment.id.desc())
    ).first()


def changes_of(session: Session, appointment_id: int) -> list[AppointmentChange]:
    return list(
        session.scalars(
            select(AppointmentChange)
            .where(AppointmentChange.appointment_id == appointment_id)
            .order_by(AppointmentChange.at, AppointmentChange.id)
        )
    )
