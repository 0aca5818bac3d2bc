"""Quiet hours: THE check for every outbound call (the dialer, before each leg) and every
unsolicited text (the send function).

Allowed hours are the stricter of the federal window (8:00-21:00) and the callee's state
window (``calling_hours``: Florida, Connecticut, ... from the number's area code, else the
practice's state), in the patient's local time. The patient's zone comes from the number
(``phonenumbers``); when the number could be in several zones, every one of them must be in
allowed hours (the stricter rule); when it is unknown, the practice's zone is used.

Pass ``practice_number`` (the practice's own number) wherever it is known: it is what decides
the state rule for a number that has no state of its own (toll-free, foreign).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contact_center.messaging.calling_hours import FEDERAL_FROM, FEDERAL_UNTIL, Window, window_for
from contact_center.phones import number_zones

# The federal window, kept for callers that only need the bounds.
ALLOWED_FROM = FEDERAL_FROM
ALLOWED_UNTIL = FEDERAL_UNTIL


def patient_zones(phone: str, practice_zone: str) -> list[ZoneInfo]:
    zones = number_zones(phone)
    return zones or [ZoneInfo(practice_zone)]


def _allowed_in(window: Window, zone: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(zone)
    if local.weekday() in window.closed_weekdays:
        return False
    return window.allowed_from <= local.time() < window.allowed_until


def is_quiet(
    phone: str, practice_zone: str, at: datetime, *, practice_number: str | None = None
) -> bool:
    """True when ``at`` is outside the number's allowed hours in any of its possible zones."""
    window = window_for(phone, practice_number)
    return not all(_allowed_in(window, z, at) for z in patient_zones(phone, practice_zone))


def _next_opening_in(window: Window, zone: ZoneInfo, at: datetime) -> datetime:
    local = at.astimezone(zone)
    day = local.date()
    if local.time() >= window.allowed_from:
        day += timedelta(days=1)
    while day.weekday() in window.closed_weekdays:
        day += timedelta(days=1)
    return datetime.combine(day, window.allowed_from, tzinfo=zone).astimezone(at.tzinfo)


def next_allowed(
    phone: str, practice_zone: str, at: datetime, *, practice_number: str | None = None
) -> datetime:
    """The first minute at or after ``at`` that is inside the allowed hours in every possible
    zone of the number."""
    window = window_for(phone, practice_number)
    zones = patient_zones(phone, practice_zone)
    candidate = at
    for _ in range(16):  # zones a few hours apart converge in a step or two
        blocking = [z for z in zones if not _allowed_in(window, z, candidate)]
        if not blocking:
            return candidate
        candidate = max(_next_opening_in(window, z, candidate) for z in blocking)
    # No common window (zones half a day apart): fall back to the practice's own zone.
    zone = ZoneInfo(practice_zone)
    return at if _allowed_in(window, zone, at) else _next_opening_in(window, zone, at)
