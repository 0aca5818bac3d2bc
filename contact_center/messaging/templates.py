"""Per-practice SMS templates with placeholders, PHI-checked when saved and when rendered.

Placeholders: ``{first_name}``, ``{practice_name}``, ``{date}``, ``{time}``, ``{booking_link}``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput, NotFound
from contact_center.messaging import phi
from contact_center.messaging.models import SmsTemplate
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
