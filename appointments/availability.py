"""Where an appointment can go: free slots read from the database (practice and provider hours,
held appointments, the calendar's busy times), computed by ``appointments.slots``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments.models import HELD, Appointment, CalendarBusy, Provider, Service
from appointments.slots import Interval, Slot, day_windows, free_starts, intersect
from contact_center.errors import NotFound
from contact_center.hours import OpeningHours
from contact_center.models import Practice


def practice_zone(session: Session, practice_id: int) -> ZoneInfo:
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound(f"no practice {practice_id}")
    return ZoneInfo(practice.timezone)


def service_of(session: Session, practice_id: int, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None or service.practice_id != practice_id or not service.active:
        raise NotFound(f"no service {service_id}")
    return service


def providers_for(session: Session, practice_id: int, provider_id: int | None) -> list[Provider]:
    if provider_id is not None:
        provider = session.get(Provider, provider_id)
        if provider is None or provider.practice_id != practice_id or not provider.active:
            raise NotFound(f"no provider {provider_id}")
        return [provider]
    return list(
        session.scalars(
            select(Provider)
            .where(Provider.practice_id == practice_id, Provider.active.is_(True))
            .order_by(Provider.name, Provider.id)
        )
    )


def _held(
    session: Session, practice_id: int, provider_id: int | None, start: datetime, end: datetime
) -> list[Interval]:
    query = select(Appointment.start_at, Appointment.end_at).where(
        Appointment.practice_id == practice_id,
        Appointment.status.in_(HELD),
        Appointment.start_at < end,
        Appointment.end_at > start,
    )
    if provider_id is None:
        query = query.where(Appointment.provider_id.is_(None))
    else:
        query = query.where(Appointment.provider_id == provider_id)
    return [(s, e) for s, e in session.execute(query)]


def _busy(
    session: Session, practice_id: int, provider_id: int | None, start: datetime, end: datetime
) -> list[Interval]:
    """Busy times from the practice's calendar: the whole practice's, and this provider's."""
    query = select(CalendarBusy.start_at, CalendarBusy.end_at).where(
        CalendarBusy.practice_id == practice_id,
        CalendarBusy.start_at < end,
        CalendarBusy.end_at > start,
    )
    if provider_id is None:
        query = query.where(CalendarBusy.provider_id.is_(None))
    else:
        query = query.where(
            (CalendarBusy.provider_id.is_(None)) | (CalendarBusy.provider_id == provider_id)
        )
    return [(s, e) for s, e in session.execute(query)]


def free_slots(
    session: Session,
    practice_id: int,
    service_id: int,
    provider_id: int | None,
    day: date,
    now: datetime,
    *,
    ignore: int | None = None,
) -> list[Slot]:
    """Free slots for ``service_id`` on practice-local ``day``, starting after ``now``.

    ``ignore``: an appointment whose own slot counts as free (it is being moved).
    """
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound(f"no practice {practice_id}")
    zone = ZoneInfo(practice.timezone)
    service = service_of(session, practice_id, service_id)
    duration = timedelta(minutes=service.duration_minutes)
    practice_windows = day_windows(OpeningHours.parse(practice.hours_spec), day, zone)
    if not practice_windows:
        return []
    day_start = min(s for s, _ in practice_windows)
    day_end = max(e for _, e in practice_windows)
    moving = session.get(Appointment, ignore) if ignore is not None else None
    providers: list[Provider | None] = list(providers_for(session, practice_id, provider_id))
    if provider_id is None and not providers:
        providers = [None]  # no providers: the practice is one calendar
    slots: list[Slot] = []
    for provider in providers:
        windows = practice_windows
        if provider is not None and provider.hours_spec:
            own = day_windows(OpeningHours.parse(provider.hours_spec), day, zone)
            windows = intersect(practice_windows, own)
        pid = provider.id if provider is not None else None
        taken = _held(session, practice_id, pid, day_start, day_end)
        if moving is not None and moving.provider_id == pid:
            taken = [t for t in taken if t != (moving.start_at, moving.end_at)]
        taken += _busy(session, practice_id, pid, day_start, day_end)
        for start in free_starts(windows, duration, taken, now, zone):
            slots.append(Slot(start, start + duration, pid))
    return sorted(slots, key=lambda s: (s.start, s.provider_id or 0))
