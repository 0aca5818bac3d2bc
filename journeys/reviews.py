"""Review requests: every patient gets the same ask, a tracked link to the practice's public
review page. Nothing about the patient (no score, no sentiment) decides who is asked: asking
only the satisfied ("review gating") breaks Google's policy and FTC guidance. At most one ask
per patient per ``CAP``; one reminder to those who did not click.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from contact_center.models import Patient
from journeys.models import ReviewAsk, ReviewSettings

CAP = timedelta(days=182)  # six months
TOKEN_BYTES = 12  # 24 hex characters: no word in it can read as a treatment's name


def set_review_link(session: Session, practice_id: int, url: str) -> ReviewSettings:
    """The practice's public review page (https only). Raises ``InvalidInput``."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or len(url) > 500:
        raise InvalidInput("review_url: an https:// address of at most 500 characters")
    row = session.get(ReviewSettings, practice_id)
    if row is None:
        row = ReviewSettings(practice_id=practice_id, review_url=url)
        session.add(row)
    row.review_url = url
    session.flush()
    return row


def review_link(session: Session, practice_id: int) -> str | None:
    row = session.get(ReviewSettings, practice_id)
    return row.review_url if row is not None else None


def ask_for(
    session: Session, practice_id: int, patient_id: int, appointment_id: int | None, now: datetime
) -> ReviewAsk | str:
    """A new ask, or why there is none ("no_review_link", "review_cap"). The patient's row is
    locked first, so two visits' asks running at once cannot both pass the cap."""
    url = review_link(session, practice_id)
    if url is None:
        return "no_review_link"
    lock = select(Patient.id).where(Patient.id == patient_id)
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update()
    session.execute(lock)
    recent = session.scalars(
        select(ReviewAsk.id).where(
            ReviewAsk.practice_id == practice_id,
            ReviewAsk.patient_id == patient_id,
            ReviewAsk.asked_at > now - CAP,
        )
    ).first()
    if recent is not None:
        return "review_cap"
    ask = ReviewAsk(
        practice_id=practice_id,
        patient_id=patient_id,
        appointment_id=appointment_id,
        token=secrets.token_hex(TOKEN_BYTES),
        review_url=url,
        asked_at=now,
        clicks=0,
    )
    session.add(ask)
    session.flush()
    return ask


def ask_of_visit(session: Session, patient_id: int, appointment_id: int | None) -> ReviewAsk | None:
    return session.scalars(
        select(ReviewAsk).where(
            ReviewAsk.patient_id == patient_id, ReviewAsk.appointment_id == appointment_id
        )
    ).first()


def click(session: Session, token: str, now: datetime) -> str | None:
    """Count a click on a tracked link; the address to send the browser to (None: unknown)."""
    query = select(ReviewAsk).where(ReviewAsk.token == token)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    ask = session.scalars(query).one_or_none()
    if ask is None:
        return None
    ask.clicks += 1
    ask.first_clicked_at = ask.first_clicked_at or now
    return ask.review_url
