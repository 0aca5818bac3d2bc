"""Patients of a practice, keyed by phone number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import DomainError
from contact_center.models import Patient, Practice
from contact_center.phones import to_e164


def practice_by_number(session: Session, number: str) -> Practice | None:
    """The practice that owns this Twilio number, or None (unknown or unreadable number)."""
    try:
        e164 = to_e164(number)
    except DomainError:
        return None
    return session.scalars(select(Practice).where(Practice.phone_number == e164)).one_or_none()


def find_or_add_patient(
    session: Session, practice_id: int, phone: str, now: datetime
) -> Patient | None:
    """The practice's patient with this number, created on first contact.

    Returns None for withheld or unreadable caller IDs ("Anonymous", "+266696687").
    """
    try:
        e164 = to_e164(phone)
    except DomainError:
        return None
    patient = session.scalars(
        select(Patient).where(Patient.practice_id == practice_id, Patient.phone == e164)
    ).one_or_none()
    if patient is None:
        patient = Patient(practice_id=practice_id, phone=e164, created_at=now)
        session.add(patient)
        session.flush()
    return patient
