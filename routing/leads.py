"""Lead intake: the speed-to-lead hand-off of a web-form lead.

``accept_lead`` writes the lead, the patient, the SMS consent, the callback task with its SLA and
its first attempt, and the pending acknowledgment text, all in the caller's transaction; the
view enqueues the text and the first dial after the commit. API keys, form validation and the
Idempotency-Key storage it uses are ``contact_center.leads``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from contact_center.leads import guard
from contact_center.leads import services as leads
from contact_center.leads.models import Lead, LeadSurge
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageKind
from contact_center.messaging.templates import acknowledgment
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient
from ivr.models import ConsentKind, ConsentRecord
from routing import dialer, sla
from routing.models import CallbackReason

logger = logging.getLogger(__name__)

SURGE_WINDOW = timedelta(hours=1)
SURGE_BASELINE = timedelta(days=7)
# One alert per surge: a practice still surging an hour later is alerted again.
SURGE_QUIET = timedelta(hours=1)


class LeadScreen(Protocol):
    """The fraud checks of the API that posted the lead (rate limits live in Redis)."""

    def screen(self, phone: str) -> None:
        """A well-formed lead to ``phone``: the destination rules, then the rate limits per
        API key, client address and number. Raises LeadRefused."""


def accept_lead(
    session: Session,
    practice: Practice,
    idempotency_key: str | None,
    raw_body: bytes,
    data: Any,
    now: datetime,
    screen: LeadScreen | None = None,
) -> leads.Accepted:
    """Take a web-form lead once per Idempotency-Key.

    A replay of an answered key is not screened again (it texts and dials nothing new); a new
    lead passes ``screen`` before anything is written. Raises ``InvalidInput`` (422, with the
    field), ``LeadRefused`` (422 or 429), ``IdempotencyConflict`` and ``RequestInFlight`` (the
    same key is being handled concurrently: ask again).
    """
    key = leads.checked_key(idempotency_key)
    digest = leads.request_digest(raw_body)
    replay = leads.stored_answer(session, practice.id, key, digest)
    if replay is not None:
        return replay
    form = leads.LeadForm.from_json(data)
    if screen is not None:
        screen.screen(form.phone)
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
    surge = detect_surge(session, practice, now)
    return leads.Accepted(
        201,
        body,
        message_id=message_id,
        attempt_id=attempt.id,
        attempt_due=attempt.due_at,
        staff_alert_id=surge.alert_message_id if surge is not None else None,
    )


def detect_surge(session: Session, practice: Practice, now: datetime) -> LeadSurge | None:
    """A jump in the practice's lead rate: more leads in the last hour than the practice's
    minimum and than ``surge_factor`` times its hourly average of the past week. Recorded
    once per quiet period for the console; the manager is texted (through the one send
    function) when the practice has staff alerts on."""
    rules = guard.guard_settings(session, practice.id)
    recent = _leads_since(session, practice.id, now - SURGE_WINDOW)
    if recent < rules.surge_min_leads:
        return None
    week = _leads_since(session, practice.id, now - SURGE_BASELINE) - recent
    hours = SURGE_BASELINE / SURGE_WINDOW - 1
    baseline = week / hours
    if recent <= rules.surge_factor * baseline:
        return None
    latest = session.scalar(
        select(func.max(LeadSurge.detected_at)).where(LeadSurge.practice_id == practice.id)
    )
    if latest is not None and now - latest < SURGE_QUIET:
        return None
    surge = LeadSurge(
        practice_id=practice.id,
        detected_at=now,
        leads_last_hour=recent,
        baseline_per_hour=round(baseline, 2),
    )
    session.add(surge)
    session.flush()
    logger.warning(
        "lead surge practice=%s leads_last_hour=%s baseline_per_hour=%.2f",
        practice.id,
        recent,
        baseline,
    )
    _alert_manager(session, practice, surge, now)
    return surge


def _leads_since(session: Session, practice_id: int, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Lead)
            .where(Lead.practice_id == practice_id, Lead.created_at >= since)
        )
        or 0
    )


def _alert_manager(session: Session, practice: Practice, surge: LeadSurge, now: datetime) -> None:
    """The SLA alerts' path: the manager's number, the practice's staff-alert switch, the one
    send function."""
    local = now.astimezone(ZoneInfo(practice.timezone))
    text = (
        f"{practice.name}: {surge.leads_last_hour} web leads in the last hour (usually "
        f"{surge.baseline_per_hour:.0f}), as of {local.strftime('%I:%M %p').lstrip('0')}. "
        "Check the console: this may be form abuse."
    )
    sent = sla.text_manager(session, practice, text, now, f"lead-surge:{surge.id}")
    if sent is not None:
        surge.alert_message_id = sent
