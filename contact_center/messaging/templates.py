"""Per-practice SMS templates with placeholders, PHI-checked when saved and when rendered.

Placeholders: ``{first_name}``, ``{practice_name}``, ``{date}``, ``{time}``, ``{booking_link}``.
Also the practice's instant acknowledgment of a first text or a web lead.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput, NotFound
from contact_center.hours import OpeningHours
from contact_center.messaging import phi
from contact_center.messaging.models import SmsTemplate
from contact_center.messaging.services import settings_for
from contact_center.models import Practice

PLACEHOLDERS = ("first_name", "practice_name", "date", "time", "booking_link")
MAX_LENGTH = 640  # four SMS segments


@dataclass(frozen=True)
class TemplateValues:
    first_name: str = ""
    date: str = ""
    time: str = ""
    booking_link: str = ""


def placeholders_in(body: str) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(body) if name is not None]
    except ValueError as exc:
        raise InvalidInput(f"template has an unbalanced brace: {exc}", "body") from exc
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise InvalidInput(
            f"unknown placeholder(s) {', '.join(unknown)}; use {', '.join(PLACEHOLDERS)}", "body"
        )
    return names


def save_template(
    session: Session, practice: Practice, name: str, body: str, now: datetime
) -> SmsTemplate:
    """Create or replace a template; raises InvalidInput (or ``phi.PhiInText``) with the field."""
    name = name.strip()
    body = body.strip()
    if not name or len(name) > 64:
        raise InvalidInput("template name is 1 to 64 characters", "name")
    if not body or len(body) > MAX_LENGTH:
        raise InvalidInput(f"template text is 1 to {MAX_LENGTH} characters", "body")
    placeholders_in(body)
    phi.check_phi(session, practice.id, body, allowed=practice.name)
    template = session.scalars(
        select(SmsTemplate).where(SmsTemplate.practice_id == practice.id, SmsTemplate.name == name)
    ).one_or_none()
    if template is None:
        template = SmsTemplate(practice_id=practice.id, name=name, body=body, updated_at=now)
        session.add(template)
    else:
        template.body = body
        template.updated_at = now
    session.flush()
    return template


def render(
    session: Session, practice: Practice, name: str, values: TemplateValues, booking_link: str = ""
) -> str:
    """The template's text with its placeholders filled (checked again by the send function)."""
    template = session.scalars(
        select(SmsTemplate).where(SmsTemplate.practice_id == practice.id, SmsTemplate.name == name)
    ).one_or_none()
    if template is None:
        raise NotFound(f"no template {name!r} for {practice.name}")
    return template.body.format(
        first_name=values.first_name or "there",
        practice_name=practice.name,
        date=values.date,
        time=values.time,
        booking_link=values.booking_link or booking_link,
    )


def callback_window(practice: Practice, due: datetime) -> str:
    local = due.astimezone(ZoneInfo(practice.timezone))
    return f"{local:%A} after {local.strftime('%I:%M %p').lstrip('0')}"


def acknowledgment(session: Session, practice: Practice, now: datetime, due: datetime) -> str:
    """The instant answer to a first text or a web lead: different after hours, with the window."""
    custom = settings_for(session, practice.id)
    open_now = OpeningHours.parse(practice.hours_spec).is_open(now, ZoneInfo(practice.timezone))
    if open_now:
        text = custom.acknowledgment or (
            "Thanks for reaching out to {practice_name}! A patient coordinator will call you "
            "shortly. Reply STOP to opt out."
        )
    else:
        text = custom.after_hours_acknowledgment or (
            "Thanks for reaching out to {practice_name}. We're closed right now; a patient "
            "coordinator will call you {callback_window}. Reply STOP to opt out."
        )
    return text.format(practice_name=practice.name, callback_window=callback_window(practice, due))
