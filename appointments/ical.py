"""Appointments as iCalendar events (RFC 5545): for the CalDAV calendar and the provider feeds.

An event says what a calendar needs and nothing clinical: the title is the kind and the
practice ("Consultation - Glow Aesthetics"), never the service's name; the description has the
patient's first name and last initial and the provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from appointments.models import Appointment, AppointmentStatus
from contact_center.models import Patient

PRODID = "-//Contact Center//Appointments//EN"


@dataclass(frozen=True)
class EventFacts:
    """What one event shows, read inside a transaction and used after it."""

    uid: str
    start: datetime
    end: datetime
    title: str
    description: str
    location: str | None
    status: str  # iCalendar STATUS: CONFIRMED, TENTATIVE, CANCELLED


def patient_label(patient: Patient | None) -> str:
    """ "Jane D.": the first name and last initial, or "Patient" when unknown."""
    if patient is None:
        return "Patient"
    first = (patient.first_name or "").strip()
    last = (patient.last_name or "").strip()
    if not first:
        return "Patient"
    return f"{first} {last[0]}." if last else first


def event_facts(
    appointment: Appointment, uid: str, practice_name: str, patient: Patient | None
) -> EventFacts:
    provider = appointment.provider.name if appointment.provider is not None else None
    who = patient_label(patient)
    status = {
        AppointmentStatus.PROPOSED: "TENTATIVE",
        AppointmentStatus.PENDING: "TENTATIVE",
        AppointmentStatus.CANCELLED: "CANCELLED",
        AppointmentStatus.ENTERED_IN_ERROR: "CANCELLED",
    }.get(appointment.status, "CONFIRMED")
    return EventFacts(
        uid=uid,
        start=appointment.start_at,
        end=appointment.end_at,
        title=f"{appointment.service.kind.label} - {practice_name}",
        description=f"{who} with {provider}" if provider else who,
        location=appointment.location,
        status=status,
    )


def _event(facts: EventFacts, stamp: datetime) -> Any:
    from icalendar import Event  # imported on use: ~0.2 s at every web process start

    event = Event()
    event.add("uid", facts.uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", facts.start)
    event.add("dtend", facts.end)
    event.add("summary", facts.title)
    event.add("description", facts.description)
    event.add("status", facts.status)
    if facts.location:
        event.add("location", facts.location)
    return event


def calendar_text(events: Iterable[EventFacts], stamp: datetime, name: str | None = None) -> str:
    """A VCALENDAR holding ``events`` (one for a CalDAV PUT, many for a feed)."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if name:
        cal.add("x-wr-calname", name)
    for facts in events:
        cal.add_component(_event(facts, stamp))
    return cal.to_ical().decode()
