"""What an admin edits in the console (no Flask): hours, greeting, consent, cadence, templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from contact_center import parsing
from contact_center.errors import InvalidInput
from contact_center.hours import OpeningHours
from contact_center.messaging import templates
from contact_center.messaging.models import SmsTemplate
from contact_center.models import ConsentMode, Practice
from contact_center.web import queries
from routing import sla
from routing.dialer_models import DAILY_CAP


@dataclass(frozen=True)
class PracticeSettings:
    hours: str
    greeting: str
    consent_mode: str
    wrap_up_seconds: str
    max_wait_seconds: str
    cadence: str
    max_attempts: str
    sla_minutes: str
    daily_cap: str = str(DAILY_CAP)


def _seconds(raw: str, field: str, low: int, high: int) -> int:
    value = parsing.integer(raw, low=low, high=high)
    if value is None:
        raise InvalidInput(f"{field.replace('_', ' ')} must be {low} to {high} seconds", field)
    return value


def update_practice(session: Session, practice_id: int, values: PracticeSettings) -> Practice:
    """Validate every field first, then apply them all. Raises InvalidInput naming the field."""
    practice = queries.practice(session, practice_id)
    spec = OpeningHours.parse(values.hours).spec()
    try:
        mode = ConsentMode(values.consent_mode)
    except ValueError as exc:
        raise InvalidInput("consent mode must be all_party or one_party", "consent_mode") from exc
    greeting = " ".join(values.greeting.split())
    if len(greeting) > 500:
        raise InvalidInput("the greeting is longer than 500 characters", "greeting")
    wrap_up = _seconds(values.wrap_up_seconds, "wrap_up_seconds", 0, 900)
    max_wait = _seconds(values.max_wait_seconds, "max_wait_seconds", 30, 1800)
    sla.parse_cadence(values.cadence)
    attempts = _number(values.max_attempts, "max_attempts", 1, 20)
    sla_minutes = _number(values.sla_minutes, "sla_minutes", 1, 1440)
    # Downward only: 3 in 24 hours is the most any practice may call one patient.
    daily_cap = _number(values.daily_cap or str(DAILY_CAP), "daily_cap", 1, DAILY_CAP)
    practice.hours_spec = spec
    practice.greeting = greeting or None
    practice.consent_mode = mode
    practice.wrap_up_seconds = wrap_up
    practice.max_wait_seconds = max_wait
    dialer = sla.dialer_settings(session, practice_id)
    dialer.cadence = ", ".join(p.strip() for p in values.cadence.split(",") if p.strip())
    dialer.max_attempts, dialer.sla_minutes = attempts, sla_minutes
    dialer.daily_cap = daily_cap
    session.add(dialer)
    session.flush()
    return practice


def _number(raw: str, field: str, low: int, high: int) -> int:
    value = parsing.integer(raw, low=low, high=high)
    if value is None:
        raise InvalidInput(f"{field.replace('_', ' ')} must be {low} to {high}", field)
    return value


def save_template(
    session: Session, practice_id: int, name: str, body: str, now: datetime
) -> SmsTemplate:
    """Save an SMS template; the messaging feature checks placeholders and PHI terms."""
    return templates.save_template(session, queries.practice(session, practice_id), name, body, now)
