"""The demo practice's services, providers and a week of appointments in several statuses.

Booked through ``appointments.services`` as coordinators would have booked them (each with its
change rows), around ``now``: past days fulfilled, no-shows and a cancellation; today arrived
and booked; the coming days booked, some confirmed, one held.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from appointments import catalog, services
from appointments.models import AppointmentSource, ServiceKind
from appointments.services import SlotTaken
from contact_center.errors import InvalidInput
from contact_center.hours import OpeningHours
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient

logger = logging.getLogger(__name__)

DEMO_SERVICES = (
    ("Consultation", 30, ServiceKind.CONSULTATION, False),
    ("Botox", 45, ServiceKind.TREATMENT, True),
    ("Dermal filler", 60, ServiceKind.TREATMENT, True),
    ("Follow-up visit", 15, ServiceKind.FOLLOW_UP, False),
)
DEMO_PROVIDERS = (
    ("Dr. Maya Chen", "mon-fri 09:00-17:00"),
    ("Jordan Reyes, RN", "tue-fri 10:00-18:00, sat 10:00-14:00"),
)
DEMO_PATIENTS = (
    ("Maria", "Lopez", "+13105550111"),
    ("Sofia", "Patel", "+13105550168"),
    ("Grace", "Kim", "+13105550175"),
    ("Hannah", "Okafor", "+13105550183"),
    ("Lily", "Nguyen", "+13105550191"),
    ("Emma", "Schultz", "+13105550127"),
)
# (days from today, local hour, minute, service index, provider index, patient index, outcome)
DEMO_WEEK = (
    (-3, 10, 0, 0, 0, 0, "fulfilled"),
    (-3, 14, 30, 1, 1, 1, "noshow"),
    (-2, 11, 0, 2, 1, 2, "fulfilled"),
    (-2, 15, 0, 0, 0, 3, "cancelled"),
    (-1, 9, 30, 3, 0, 4, "fulfilled"),
    (-1, 13, 0, 1, 1, 5, "noshow"),
    (0, 10, 0, 0, 0, 2, "arrived"),
    (0, 11, 30, 1, 1, 0, "booked"),
    (0, 15, 0, 0, 0, 5, "confirmed"),
    (1, 9, 0, 0, 0, 1, "confirmed"),
    (1, 12, 0, 2, 1, 3, "booked"),
    (2, 10, 30, 3, 0, 0, "booked"),
    (2, 16, 0, 0, 1, 4, "confirmed"),
    (3, 11, 0, 1, 1, 2, "booked"),
    (4, 14, 0, 0, 0, 5, "booked"),
)


def seed_appointments(session: Session, practice: Practice, user_id: int, now: datetime) -> int:
    """Services, providers and the week's appointments around ``now`` (on the days the
    practice is open); returns how many were booked."""
    zone = ZoneInfo(practice.timezone)
    offered = [
        catalog.add_service(session, practice.id, name, minutes, kind, needs_checkin=checkin)
        for name, minutes, kind, checkin in DEMO_SERVICES
    ]
    providers = [catalog.add_provider(session, practice.id, n, h) for n, h in DEMO_PROVIDERS]
    patients = []
    for first, last, phone in DEMO_PATIENTS:
        patient = find_or_add_patient(session, practice.id, phone, now)
        assert patient is not None
        patient.first_name = patient.first_name or first
        patient.last_name = patient.last_name or last
        patients.append(patient)
    hours = OpeningHours.parse(practice.hours_spec)
    today = now.astimezone(zone).date()
    booked = 0
    for days, hour, minute, s, p, who, outcome in DEMO_WEEK:
        day = _open_day(hours, today, days)
        start = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(now.tzinfo)
        made_at = min(now, start) - timedelta(days=2)
        appointment = None
        for provider in (providers[p], providers[1 - p]):  # the other one on a day off
            try:
                appointment = services.book(
                    session,
                    practice.id,
                    patients[who].id,
                    offered[s].id,
                    start,
                    user_id,
                    made_at,
                    provider_id=provider.id,
                    source=AppointmentSource.CALL if booked % 3 else AppointmentSource.CONSOLE,
                )
                break
            except (SlotTaken, InvalidInput):
                continue
        if appointment is None:
            continue  # outside the practice's hours that day (a short Saturday)
        booked += 1
        after = start + timedelta(minutes=offered[s].duration_minutes)
        if outcome == "fulfilled":
            services.mark(session, appointment.id, "arrived", user_id, start - timedelta(minutes=5))
            services.mark(session, appointment.id, "fulfilled", user_id, after)
        elif outcome == "noshow":
            services.mark(session, appointment.id, "noshow", user_id, start + timedelta(minutes=20))
        elif outcome == "cancelled":
            services.cancel(session, appointment.id, "patient", made_at + timedelta(hours=5))
        elif outcome == "arrived" and start - timedelta(minutes=5) <= now:
            services.mark(session, appointment.id, "arrived", user_id, start - timedelta(minutes=5))
        elif outcome == "confirmed":
            services.confirm(session, appointment.id, "patient", made_at + timedelta(hours=1))
    logger.info("demo appointments practice_id=%s booked=%s", practice.id, booked)
    return booked


def _open_day(hours: OpeningHours, today: date, offset: int) -> date:
    """The ``offset``-th day the practice is open after (or, negative, before) ``today``;
    today itself for 0."""
    day, left, step = today, abs(offset), 1 if offset > 0 else -1
    while left:
        day += timedelta(days=step)
        if hours.windows[day.weekday()]:
            left -= 1
    return day
