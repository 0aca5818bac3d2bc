"""Quiet hours: no outbound call and no unsolicited text outside 8:00-21:00, patient's local time.

The patient's zone comes from the number (``phonenumbers``); when the number could be in several
zones, every one of them must be in allowed hours (the stricter rule); when it is unknown, the
practice's zone is used.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from contact_center.phones import number_zones

ALLOWED_FROM = time(8, 0)
ALLOWED_UNTIL = time(21, 0)


def patient_zones(phone: str, practice_zone: str) -> list[ZoneInfo]:
    zones = number_zones(phone)
    return zones or [ZoneInfo(practice_zone)]


def _allowed_in(zone: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(zone).time()
    return ALLOWED_FROM <= local < ALLOWED_UNTIL


def is_quiet(phone: str, practice_zone: str, at: datetime) -> bool:
    """True when ``at`` is inside quiet hours for this number in any of its possible zones."""
    return not all(_allowed_in(z, at) for z in patient_zones(phone, practice_zone))


def _next_opening_in(zone: ZoneInfo, at: datetime) -> datetime:
    local = at.astimezone(zone)
    day = local.date() if local.time() < ALLOWED_FROM else local.date() + timedelta(days=1)
    return datetime.combine(day, ALLOWED_FROM, tzinfo=zone).astimezone(at.tzinfo)


def next_allowed(phone: str, practice_zone: str, at: datetime) -> datetime:
    """The first minute at or after ``at`` that is outside quiet hours in every possible zone."""
    zones = patient_zones(phone, practice_zone)
    candidate = at
    for _ in range(8):  # zones a few hours apart converge in a step or two
        blocking = [z for z in zones if not _allowed_in(z, candidate)]
        if not blocking:
            return candidate
        candidate = max(_next_opening_in(z, candidate) for z in blocking)
    # No common window (zones half a day apart): fall back to the practice's own zone.
    zone = ZoneInfo(practice_zone)
    return at if _allowed_in(zone, at) else _next_opening_in(zone, at)
