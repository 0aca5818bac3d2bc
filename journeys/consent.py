"""The two consent classes: care texts need the number the patient gave; marketing texts need
separate written consent, kept in the consent ledger (``ivr.models.ConsentRecord``, kind
``marketing``) with its wording, time and source. The latest record for the number decides.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from ivr.models import ConsentKind, ConsentRecord


class ConsentSource(enum.StrEnum):
    WEB_FORM = "web_form"  # a checkbox on the practice's form
    INTAKE = "intake"  # the intake paperwork
    KEYWORD = "keyword"  # a keyword reply ("JOIN")


def record_marketing_consent(
    session: Session,
    practice_id: int,
    phone: str,
    *,
    granted: bool,
    wording: str,
    source: ConsentSource,
    now: datetime,
) -> ConsentRecord:
    """Append the patient's answer to the ledger (never updated). ``wording`` is what the
    patient agreed to, word for word; raises ``InvalidInput`` when it is empty."""
    wording = " ".join(wording.split())
    if granted and not wording:
        raise InvalidInput("wording: the words the patient agreed to are required")
    record = ConsentRecord(
        practice_id=practice_id,
        kind=ConsentKind.MARKETING,
        phone=phone,
        granted=granted,
        method=source.value,
        wording=wording[:2000] or None,
        at=now,
    )
    session.add(record)
    session.flush()
    return record


def has_marketing_consent(session: Session, practice_id: int, phone: str) -> bool:
    """True when the number's latest marketing record grants it."""
    latest = session.scalars(
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.practice_id == practice_id,
            ConsentRecord.phone == phone,
            ConsentRecord.kind == ConsentKind.MARKETING,
        )
        .order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc())
        .limit(1)
    ).first()
    return bool(latest)
