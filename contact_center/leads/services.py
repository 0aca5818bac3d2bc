"""Web-form leads without the intake: API keys, form validation, Idempotency-Key storage.

Plain functions on the caller's session; nothing here texts, dials or writes consent. The
intake that does (``accept_lead``: patient, callback task, consent, acknowledgment) is the
speed-to-lead hand-off in ``routing.leads``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contact_center import parsing
from contact_center.errors import DomainError, Forbidden, InvalidInput
from contact_center.leads.models import ApiKey, IdempotentRequest
from contact_center.models import Practice
from contact_center.phones import to_e164

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_KEY_LENGTH = 255


class Unauthorized(Forbidden):
    """No valid API key."""


class IdempotencyConflict(InvalidInput):
    """The same Idempotency-Key came with a different request body."""


class RequestInFlight(DomainError):
    """The same Idempotency-Key is being processed by a concurrent request right now."""


def request_digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def create_api_key(session: Session, practice: Practice, now: datetime, label: str = "") -> str:
    """A new key for the practice's web forms; the secret is returned once and never stored."""
    secret = "cc_" + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            practice_id=practice.id,
            prefix=secret[:10],
            digest=request_digest(secret),
            label=label or None,
            created_at=now,
        )
    )
    session.flush()
    return secret


def practice_for_key(session: Session, secret: str | None) -> Practice:
    """The practice owning an unrevoked key; raises ``Unauthorized``."""
    if not secret:
        raise Unauthorized("missing API key (Authorization: Bearer <key>)")
    key = session.scalars(
        select(ApiKey).where(
            ApiKey.digest == request_digest(secret.strip()), ApiKey.revoked_at.is_(None)
        )
    ).one_or_none()
    if key is None:
        raise Unauthorized("invalid API key")
    return session.get_one(Practice, key.practice_id)


@dataclass(frozen=True)
class LeadForm:
    name: str
    phone: str
    email: str | None
    source: str | None
    message: str | None
    sms_consent: bool
    consent_wording: str | None

    @classmethod
    def from_json(cls, data: Any) -> LeadForm:
        """Validate a lead body; raise ``InvalidInput`` naming the first bad field."""
        if not isinstance(data, Mapping):
            raise InvalidInput("body must be a JSON object", "body")
        name = _text(data, "name", 160, required=True)
        phone = to_e164(_text(data, "phone", 40, required=True) or "")
        email = _text(data, "email", 254)
        if email and not _EMAIL.match(email):
            raise InvalidInput(f"{email!r} is not an email address", "email")
        consent = data.get("sms_consent", False)
        wording = _text(data, "consent_wording", 2000)
        if isinstance(consent, Mapping):  # {"granted": true, "wording": "..."}
            wording = _text(consent, "wording", 2000) or wording
            consent = consent.get("granted", False)
        if not isinstance(consent, bool):
            raise InvalidInput("sms_consent must be true or false", "sms_consent")
        if consent and not wording:
            raise InvalidInput(
                "sms consent needs the consent wording shown to the patient", "consent_wording"
            )
        return cls(
            name=name or "",
            phone=phone,
            email=email,
            source=_text(data, "source", 80),
            message=_text(data, "message", 4000),
            sms_consent=consent,
            consent_wording=wording if consent else None,
        )


def _text(data: Mapping[str, Any], field: str, limit: int, *, required: bool = False) -> str | None:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{field} is required", field)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field)
    value = parsing.text(value)
    value = " ".join(value.split()) if field != "message" else value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field)
    return value


@dataclass(frozen=True)
class Accepted:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    message_id: int | None = None
    attempt_id: int | None = None
    attempt_due: datetime | None = None
    staff_alert_id: int | None = None  # a text to the manager about a lead surge


def stored_answer(session: Session, practice_id: int, key: str, digest: str) -> Accepted | None:
    row = session.scalars(
        select(IdempotentRequest).where(
            IdempotentRequest.practice_id == practice_id, IdempotentRequest.key == key
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_digest != digest:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different request", "Idempotency-Key"
        )
    return Accepted(row.status_code, dict(row.response), replayed=True)


def checked_key(idempotency_key: str | None) -> str:
    """The Idempotency-Key header, stripped; raises ``InvalidInput`` when missing or too long."""
    key = parsing.text(idempotency_key).strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            "an Idempotency-Key header (1 to 255 characters) is required", "Idempotency-Key"
        )
    return key


def claim_key(
    session: Session, practice_id: int, key: str, digest: str, now: datetime
) -> IdempotentRequest:
    """Claim the key before doing the work; the caller stores the answer in the returned row.

    A concurrent twin waits on this row, then fails, then replays. Raises ``RequestInFlight``
    when another request holds the key right now.
    """
    claim = IdempotentRequest(
        practice_id=practice_id,
        key=key,
        request_digest=digest,
        status_code=0,
        response={},
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(claim)
    except IntegrityError as exc:
        raise RequestInFlight("a request with this Idempotency-Key is in progress") from exc
    return claim
