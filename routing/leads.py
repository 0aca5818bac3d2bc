"""Lead intake: the speed-to-lead hand-off of a web-form lead.

``accept_lead`` writes the lead, the patient, the SMS consent, the callback task with its SLA and
its first attempt, and the pending acknowledgment text, all in the caller's transaction; the
view enqueues the text and the first dial after the commit. API keys, form validation and the
Idempotency-Key storage it uses are ``contact_center.leads``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from contact_center.leads import services as leads
from contact_center.leads.models import Lead
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageKind
from contact_center.messaging.templates import acknowledgment
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient
from ivr.models import ConsentKind, ConsentRecord
from routing import dialer
from routing.models import CallbackReason


def accept_lead(
    session: Session,
    practice: Practice,
    idempotency_key: str | None,
    raw_body: bytes,
    data: Any,
    now: datetime,
) -> leads.Accepted:
    """Take a web-form lead once per Idempotency-Key.

    Raises ``InvalidInput`` (422, with the field), ``IdempotencyConflict`` and
    ``RequestInFlight`` (the same key is being handled concurrently: ask again).
    """
    key = leads.checked_key(idempotency_key)
    digest = leads.request_digest(raw_body)
    replay = leads.stored_answer(session, practice.id, key, digest)
    if replay is not None:
        return replay
    form = leads.LeadForm.from_json(data)
    # Claim the key first: a concurrent twin waits on this row, then fails, then replays.
    claim = leads.claim_key(session, practice.id, key, digest, now)

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
    return leads.Accepted(
        201, body, message_id=message_id, attempt_id=attempt.id, attempt_due=attempt.due_at
    )
