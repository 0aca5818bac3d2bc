"""Free slots: practice hours ∩ provider hours, minus held appointments and calendar busy times.

Pure computation over plain values (the database reads are in ``services.free_slots``). A slot
starts on a ``STEP_MINUTES`` grid in the practice's time zone and lasts the service's duration;
it is free when it lies inside both the practice's and the provider's working windows that day
and overlaps nothing held or busy. Days are practice-local, so a slot on a daylight-saving day
is computed in wall-clock time and converted to UTC once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contact_center.hours import OpeningHours

STEP_MINUTES = 15
Interval = tuple[datetime, datetime]  # UTC, [start, end)


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime  # UTC
    provider_id: int | None  # None: the practice has no providers, it is one calendar


def day_windows(hours: OpeningHours, day: date, zone: ZoneInfo) -> list[Interval]:
    """The opening windows of ``day`` (practice-local) as UTC intervals."""
    out = []
    for start, end in hours.windows[day.weekday()]:
        # "24:00" is stored as 23:59:59; treat it as midnight so a slot may end there.
        local_end = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            if end == time(23, 59, 59)
            else datetime.combine(day, end, tzinfo=zone)
        )
        local_start = datetime.combine(day, start, tzinfo=zone)
        out.append((local_start.astimezone(UTC), local_end.astimezone(UTC)))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            start, end = max(s1, s2), min(e1, e2)
            if start < end:
                out.append((start, end))
    return sorted(out)


def overlaps(start: datetime, end: datetime, taken: Iterable[Interval]) -> bool:
    return any(s < end and start < e for s, e in taken)


def free_starts(
    windows: Sequence[Interval],
    duration: timedelta,
    taken: Sequence[Interval],
    not_before: datetime,
    zone: ZoneInfo,
) -> list[datetime]:
    """Grid-aligned starts (UTC) of free slots of ``duration`` inside ``windows``."""
    step = timedelta(minutes=STEP_MINUTES)
    starts: list[datetime] = []
    for window_start, window_end in windows:
        local = window_start.astimezone(zone)
        # Round up to the grid in local wall-clock minutes (a window may open at 9:10).
        past = (local.hour * 60 + local.minute) % STEP_MINUTES
        if past or local.second or local.microsecond:
            local = local.replace(second=0, microsecond=0) + timedelta(minutes=STEP_MINUTES - past)
        start = local.astimezone(UTC)
        while start + duration <= window_end:
            if start >= not_before and not overlaps(start, start + duration, taken):
                starts.append(start)
            start += step
    return sorted(set(starts))
