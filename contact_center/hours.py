"""Practice opening hours: parsing the admin's spec and asking "open now?" / "next opening".

Spec grammar (what the CLI and settings page accept), days in English three-letter form:
``"mon-fri 09:00-18:00, sat 10:00-14:00"``; several ranges per day are allowed
(``"mon 09:00-12:00, mon 13:00-17:00"``). Days not named are closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contact_center.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PART = re.compile(
    r"^(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)


@dataclass(frozen=True)
class OpeningHours:
    """Weekly opening windows: ``windows[weekday]`` is a tuple of (start, end) local times."""

    windows: tuple[tuple[tuple[time, time], ...], ...]

    @classmethod
    def parse(cls, spec: str) -> OpeningHours:
        """Parse an hours spec; raise ``InvalidInput`` saying which part is malformed."""
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        parts = [p.strip().lower() for p in spec.split(",") if p.strip()]
        if not parts:
            raise InvalidInput("hours are empty; expected e.g. 'mon-fri 09:00-18:00'", "hours")
        for part in parts:
            match = _PART.match(part)
            if not match:
                raise InvalidInput(
                    f"cannot read hours {part!r}; expected e.g. 'mon-fri 09:00-18:00'", "hours"
                )
            d1, d2 = match["d1"], match["d2"] or match["d1"]
            if d1 not in DAYS or d2 not in DAYS:
                raise InvalidInput(f"unknown day in {part!r}; use mon..sun", "hours")
            start = _clock(match["h1"], match["m1"], part)
            end = _clock(match["h2"], match["m2"], part)
            if end <= start:
                raise InvalidInput(f"closing time must be after opening time in {part!r}", "hours")
            i, j = DAYS.index(d1), DAYS.index(d2)
            if j < i:
                raise InvalidInput(f"day range runs backwards in {part!r}", "hours")
            for day in range(i, j + 1):
                days[day].append((start, end))
        return cls(tuple(tuple(sorted(d)) for d in days))

    def spec(self) -> str:
        """The canonical spec string (what is stored): 'mon-fri 09:00-18:00, sat 10:00-14:00'."""
        out: list[str] = []
        for first, last, windows in self._runs():
            days = DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"
            out.extend(f"{days} {start:%H:%M}-{end:%H:%M}" for start, end in windows)
        return ", ".join(out)

    def _runs(self) -> list[tuple[int, int, tuple[tuple[time, time], ...]]]:
        """Consecutive days with the same windows, as (first day, last day, windows)."""
        runs: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
        for day, windows in enumerate(self.windows):
            if not windows:
                continue
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == windows:
                runs[-1] = (runs[-1][0], day, windows)
            else:
                runs.append((day, day, windows))
        return runs

    def describe(self) -> str:
        """Words a caller can follow: 'Monday to Friday, 9 AM to 6 PM; Saturday, 10 AM to 2 PM'."""
        phrases = []
        for first, last, windows in self._runs():
            days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]} to {DAY_NAMES[last]}"
            spans = " and ".join(f"{_spoken(s)} to {_spoken(e)}" for s, e in windows)
            phrases.append(f"{days}, {spans}")
        return "; ".join(phrases) if phrases else "by appointment only"

    def is_open(self, at: datetime, zone: ZoneInfo) -> bool:
        local = at.astimezone(zone)
        now = local.time()
        return any(s <= now < e for s, e in self.windows[local.weekday()])

    def next_opening(self, at: datetime, zone: ZoneInfo) -> datetime | None:
        """The next moment (UTC) the practice opens strictly after ``at``; None if never open."""
        local = at.astimezone(zone)
        for offset in range(0, 8):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.windows[day.weekday()]:
                candidate = datetime.combine(day, start, tzinfo=zone)
                if candidate > local:
                    return candidate.astimezone(UTC)
        return None


def _clock(hours: str, minutes: str, part: str) -> time:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time(23, 59, 59)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise InvalidInput(f"impossible time of day in {part!r}", "hours")
    return time(h, m)


def _spoken(t: time) -> str:
    hour = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour} {suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d} {suffix}"
