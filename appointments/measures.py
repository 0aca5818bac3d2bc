"""After booking: show rate, no-show rate, confirmation rate and booked-to-confirmed time, per
practice and per lead source.

Over appointments that started in the window (``since`` to ``now``), entered-in-error ones left
out:
- show rate = (arrived + fulfilled) / (arrived + fulfilled + no-show); no-show rate the rest of
  that denominator (appointments still "booked" after their time are not counted either way
  until someone marks them);
- confirmation rate = confirmed / appointments that were sent at least one reminder;
- booked-to-confirmed = median hours from booking to the patient's confirmation.
The lead source is the web lead's ``source`` when the appointment came from a lead, else how it
was booked (call, text, console, calendar).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from appointments.models import Appointment, AppointmentStatus
from appointments.reminder_models import Reminder, ReminderState
from contact_center.leads.models import Lead

ALL = "all"
_SHOWED = frozenset({AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED})


@dataclass(frozen=True)
class Measures:
    source: str
    appointments: int
    showed: int
    no_shows: int
    reminded: int
    confirmed: int
    booked_to_confirmed_h: float | None

    @property
    def show_rate(self) -> float | None:
        marked = self.showed + self.no_shows
        return self.showed / marked if marked else None

    @property
    def no_show_rate(self) -> float | None:
        marked = self.showed + self.no_shows
        return self.no_shows / marked if marked else None

    @property
    def confirmation_rate(self) -> float | None:
        return self.confirmed / self.reminded if self.reminded else None


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _measure(source: str, rows: list[tuple[Appointment, bool]]) -> Measures:
    hours = [
        (a.confirmed_at - a.created_at).total_seconds() / 3600
        for a, _ in rows
        if a.confirmed_at is not None
    ]
    return Measures(
        source=source,
        appointments=len(rows),
        showed=sum(1 for a, _ in rows if a.status in _SHOWED),
        no_shows=sum(1 for a, _ in rows if a.status is AppointmentStatus.NOSHOW),
        reminded=sum(1 for _, r in rows if r),
        confirmed=sum(1 for a, r in rows if r and a.confirmed_at is not None),
        booked_to_confirmed_h=_median(hours),
    )


def appointment_measures(
    session: Session, practice_id: int, since: datetime, now: datetime
) -> list[Measures]:
    """The practice's measures (``source == "all"`` first), then one row per lead source."""
    reminded = exists().where(
        Reminder.appointment_id == Appointment.id, Reminder.state == ReminderState.QUEUED
    )
    rows = session.execute(
        select(Appointment, reminded, Lead.source)
        .outerjoin(Lead, Lead.id == Appointment.lead_id)
        .where(
            Appointment.practice_id == practice_id,
            Appointment.start_at >= since,
            Appointment.start_at < now,
            Appointment.status != AppointmentStatus.ENTERED_IN_ERROR,
        )
    ).all()
    by_source: dict[str, list[tuple[Appointment, bool]]] = {}
    everything = []
    for appointment, was_reminded, lead_source in rows:
        source = (lead_source or "").strip() or appointment.source.value
        by_source.setdefault(source, []).append((appointment, bool(was_reminded)))
        everything.append((appointment, bool(was_reminded)))
    return [_measure(ALL, everything)] + [
        _measure(source, items) for source, items in sorted(by_source.items())
    ]


CSV_COLUMNS = (
    "practice",
    "lead_source",
    "appointments",
    "showed",
    "no_shows",
    "show_rate",
    "no_show_rate",
    "reminded",
    "confirmed",
    "confirmation_rate",
    "booked_to_confirmed_hours_median",
)


def _cell(text: str) -> str:
    """A lead source comes from a web form: never let a spreadsheet run it as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def measures_csv(practice_name: str, measures: list[Measures]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in measures:
        writer.writerow(
            [
                _cell(practice_name),
                _cell(m.source),
                m.appointments,
                m.showed,
                m.no_shows,
                _fmt(m.show_rate),
                _fmt(m.no_show_rate),
                m.reminded,
                m.confirmed,
                _fmt(m.confirmation_rate),
                _fmt(m.booked_to_confirmed_h),
            ]
        )
    return out.getvalue()
