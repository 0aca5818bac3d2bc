"""Lead intake: API keys, validation, Idempotency-Key handling, and the speed-to-lead hand-off.

``accept_lead`` writes the lead, the patient, the SMS consent, the callback task with its SLA and
its first attempt, and the pending acknowledgment text, all in the caller's transaction; the
view enqueues the text and the first dial after the commit.
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

from contact_center.errors import DomainError, Forbidden, InvalidInput
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageKind
from contact_center.messaging.templates import acknowledgment
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient
from contact_center.phones import to_e164
from ivr.models import ConsentKind, ConsentRecord
from leads.models import ApiKey, IdempotentRequest, Lead
from routing import dialer
from routing.models import CallbackReason

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


def accept_lead(
    session: Session,
    practice: Practice,
    idempotency_key: str | None,
    raw_body: bytes,
    data: Any,
    now: datetime,
) -> Accepted:
    """Take a web-form lead once per Idempotency-Key.

    Raises ``InvalidInput`` (422, with the field), ``IdempotencyConflict`` and
    ``RequestInFlight`` (the same key is being handled concurrently: ask again).
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            "an Idempotency-Key header (1 to 255 characters) is required", "Idempotency-Key"
        )
    digest = request_digest(raw_body)
    replay = stored_answer(session, practice.id, key, digest)
    if replay is not None:
        return replay
    form = LeadForm.from_json(data)
    # Claim the key first: a concurrent twin waits on this row, then fails, then replays.
    claim = IdempotentRequest(
        practice_id=practice.id,
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

    patient = find_or_add_patient(session, practice.id, form.phone, now)
    assert patient is not None  # the phone was validated above
    first, _, last = form.name.partition(" ")
    patient.first_name = patient.first_name or first[:80]
    patient.last_name = patient.last_name or (last[:80] or None)
    patient.email = patient.email or form.email
    task, attempt = dialer.open_callback(
        session,
        practice,
        form.phone,
        CallbackReason.LEAD,
        now,
        patient_id=patient.id,
        note=f"web lead {first}"[:200],
    )
    lead = Lead(
        practice_id=practice.id,
        patient_id=patient.id,
        callback_task_id=task.id,
        name=form.name,
        phone=form.phone,
        email=form.email,
        source=form.source,
        message=form.message,
        sms_consent=form.sms_consent,
        consent_wording=form.consent_wording,
        created_at=now,
    )
    session.add(lead)
    session.flush()
    message_id, sms_state = None, "not_consented"
    if form.sms_consent:
        session.add(
            ConsentRecord(
                practice_id=practice.id,
                kind=ConsentKind.SMS,
                phone=form.phone,
                granted=True,
                method="web_form",
                wording=form.consent_wording,
                at=now,
            )
        )
        try:
            message = messaging.send_sms(
                session,
                practice,
                form.phone,
                acknowledgment(session, practice, now, task.due_at),
                MessageKind.ACKNOWLEDGMENT,
                now,
                direct_reply=True,
                dedupe_key=f"lead-ack:{lead.id}",
            )
            message_id, sms_state = message.id, "queued"
        except messaging.SmsRefused as exc:
            sms_state = f"refused: {exc.reason}"
        except InvalidInput:  # a practice's own acknowledgment names a treatment
            sms_state = "refused: phi"
    body = {
        "lead_id": lead.id,
        "patient_id": patient.id,
        "callback_task_id": task.id,
        "phone": form.phone,
        "sla_deadline": task.sla_deadline.isoformat(),
        "first_attempt_due": attempt.due_at.isoformat(),
        "sms": sms_state,
    }
    claim.status_code, claim.response = 201, body
    return Accepted(
        201, body, message_id=message_id, attempt_id=attempt.id, attempt_due=attempt.due_at
    )
