"""A provider's appointments as one iCalendar document (the subscribe-only feed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from appointments.ical import calendar_text, event_facts
from appointments.models import Appointment, AppointmentStatus, Provider
from contact_center.models import Patient, Practice

SHOWN = (
    AppointmentStatus.PENDING,
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.FULFILLED,
    AppointmentStatus.NOSHOW,
)


def provider_feed(
    session: Session, token: str, start: datetime, end: datetime, now: datetime
) -> str | None:
    """The feed for the provider with this secret ``token``, or None when no provider has it."""
    provider = session.scalars(
        select(Provider).where(Provider.feed_token == token, Provider.active.is_(True))
    ).one_or_none()
    if provider is None:
        return None
    practice = session.get(Practice, provider.practice_id)
    assert practice is not None
    appointments = list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.provider_id == provider.id,
                Appointment.status.in_(SHOWN),
                Appointment.start_at >= start,
                Appointment.start_at < end,
            )
            .options(selectinload(Appointment.service), selectinload(Appointment.provider))
            .order_by(Appointment.start_at)
        )
    )
    patients = {
        p.id: p
        for p in session.scalars(
            select(Patient).where(Patient.id.in_({a.patient_id for a in appointments}))
        )
    }
    events = [
        event_facts(a, f"feed-appointment-{a.id}@cc", practice.name, patients.get(a.patient_id))
        for a in appointments
    ]
    return calendar_text(events, now, name=f"{practice.name} - {provider.name}")
