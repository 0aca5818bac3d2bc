"""The patient's reschedule page, reached by the signed link a reminder reply (R) sends.

``GET /r/<token>``: the practice's name, the appointment's day and time (never its service) and
the free slots of the next days; ``POST`` with ``start`` moves the appointment there, with
``call`` asks a coordinator to call. Without a valid, unexpired token for the appointment as it
stands, the page says only that the link is not valid (404), whatever was sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from sqlalchemy.orm import Session

from appointments import reminders
from appointments import services as appointments
from appointments.links import Links
from appointments.models import HELD, Appointment
from appointments.services import SlotTaken
from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import DomainError
from contact_center.models import Practice
from contact_center.webhooks import app_settings
from ivr.appointment_replies import request_call
from routing import dialer_jobs

logger = logging.getLogger(__name__)
bp = Blueprint("reschedule", __name__)
DAYS_SHOWN = 7
MAX_TOKEN = 400


@dataclass(frozen=True)
class Page:
    state: str  # invalid, choose, moved, call
    practice: Practice | None = None
    when: str = ""
    days: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    error: str | None = None


def _links() -> Links:
    settings = app_settings()
    return Links(settings.secret_key, settings.public_base_url)


def _appointment(session: Session, token: str, now: datetime) -> Appointment | None:
    if len(token) > MAX_TOKEN:
        return None
    claim = _links().read(token, now)
    if claim is None:
        return None
    appointment = session.get(Appointment, claim.appointment_id)
    if (
        appointment is None
        or appointment.status not in HELD
        or appointment.start_at != claim.for_start
        or appointment.start_at <= now
    ):
        return None
    return appointment


def _when(practice: Practice, start: datetime) -> str:
    day, at = reminders.when_text(start, ZoneInfo(practice.timezone))
    return f"{day} at {at}"


def _choices(session: Session, appointment: Appointment, practice: Practice, now: datetime) -> Page:
    zone = ZoneInfo(practice.timezone)
    days = []
    today = now.astimezone(zone).date()
    for offset in range(DAYS_SHOWN + 1):
        day = today + timedelta(days=offset)
        slots = appointments.free_slots(
            session,
            practice.id,
            appointment.service_id,
            appointment.provider_id,
            day,
            now,
            ignore=appointment.id,
        )
        seen: dict[str, str] = {}
        for slot in slots:
            if slot.start == appointment.start_at:
                continue
            _, label = reminders.when_text(slot.start, zone)
            seen.setdefault(slot.start.isoformat(), label)
        if seen:
            days.append((f"{day:%a %b} {day.day}", tuple(seen.items())))
    return Page("choose", practice, _when(practice, appointment.start_at), tuple(days))


@bp.get("/r/<token>")
def show(token: str) -> tuple[str, int]:
    now = clock.now()
    with session_scope() as session:
        appointment = _appointment(session, token, now)
        if appointment is None:
            return render_template("reschedule.html", **Page("invalid").__dict__), 404
        practice = session.get_one(Practice, appointment.practice_id)
        page = _choices(session, appointment, practice, now)
        return render_template("reschedule.html", **page.__dict__), 200


@bp.post("/r/<token>")
def choose(token: str) -> tuple[str, int]:
    now = clock.now()
    attempt: tuple[int, datetime | None] | None = None
    start_value = request.form.get("start", "")[:64]
    with session_scope() as session:
        appointment = _appointment(session, token, now)
        if appointment is None:
            return render_template("reschedule.html", **Page("invalid").__dict__), 404
        practice = session.get_one(Practice, appointment.practice_id)
        if request.form.get("call"):
            _, due, attempt_id = request_call(
                session, appointment, now, "asked for a call from the reschedule page"
            )
            attempt = (attempt_id, due) if attempt_id is not None else None
            page, status = Page("call", practice), 200
        else:
            try:
                start = datetime.fromisoformat(start_value)
                if start.tzinfo is None:
                    raise ValueError("no zone")
            except ValueError:
                start = None
            error = None
            if start is None:
                error = "Please pick one of the times below."
            else:
                try:
                    with session.begin_nested():
                        appointments.reschedule(
                            session,
                            appointment.id,
                            start,
                            "patient",
                            now,
                            note="moved by the patient from the reschedule link",
                        )
                except SlotTaken:
                    error = "That time was just taken. Please pick another."
                except DomainError as exc:
                    logger.info(
                        "reschedule by link refused appointment_id=%s: %s", appointment.id, exc
                    )
                    error = "That time is not available. Please pick another."
            if error is None:
                page, status = Page("moved", practice, _when(practice, appointment.start_at)), 200
            else:
                page = _choices(session, appointment, practice, now)
                page, status = Page("choose", practice, page.when, page.days, error), 422
        html = render_template("reschedule.html", **page.__dict__)
        # The practice's calendar follows a move by itself (appointments' change hook).
        if attempt is not None and attempt[0] is not None:
            dialer_jobs.schedule_attempt(session, attempt[0], attempt[1])
    return html, status
