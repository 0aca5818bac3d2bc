"""Running one due step: exactly once, every effect a row written in the run's transaction.

The run is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and must still be ``scheduled``
and due; the text (a ``pending`` message through the one send function), callback task or
alert is written and the run marked done or skipped in the same transaction. A second run of
the job, a rerun of the reconciler or a worker killed half way can therefore neither double
nor lose a step; the text's delivery is the messaging pipeline's own exactly-once job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from appointments.models import HELD, Appointment, AppointmentStatus
from contact_center.errors import InvalidInput
from contact_center.messaging import pause
from contact_center.messaging import services as messaging
from contact_center.messaging.jobs import schedule_delivery
from contact_center.messaging.models import MessageKind
from contact_center.models import Patient, Practice
from contact_center.runtime import current_settings
from journeys import reviews
from journeys.consent import has_marketing_consent
from journeys.models import ConsentClass, RunState, StepAction, StepCondition, StepRun
from routing import dialer
from routing.models import CallbackReason

logger = logging.getLogger(__name__)

VISITED = (AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED)


@dataclass(frozen=True)
class Ran:
    run_id: int
    state: RunState
    outcome: str | None


def run_step(session: Session, run_id: int, now: datetime) -> Ran | None:
    """Do one due step run; None when it is not due, already done, or another worker has it."""
    query = select(StepRun).where(StepRun.id == run_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=StepRun)
    run = session.scalars(query).one_or_none()
    if run is None or run.state is not RunState.SCHEDULED or run.due_at > now:
        return None
    step = run.step
    practice = session.get_one(Practice, run.practice_id)
    patient = session.get_one(Patient, run.patient_id)
    phone = patient.phone
    if messaging.is_opted_out(session, practice.id, phone):
        return _finish(run, RunState.SKIPPED, "opted_out", "the patient opted out of texts", now)
    if step.action is not StepAction.ALERT and pause.contact_paused(session, practice.id, phone):
        # A possible opt-out waits for a person: neither text nor call until they decide.
        run.due_at = now + pause.REVIEW_RECHECK
        run.detail = "waiting: a coordinator must decide on a possible opt-out"
        return Ran(run.id, run.state, None)
    if _condition_holds(session, run, step.condition, now):
        return _finish(run, RunState.SKIPPED, step.condition.value, None, now)
    action = step.action
    detail = None
    marketing = step.consent_class is ConsentClass.MARKETING
    if (
        action is StepAction.TEXT
        and marketing
        and not has_marketing_consent(session, practice.id, phone)
    ):
        if not step.call_without_consent:
            return _finish(run, RunState.SKIPPED, "no_marketing_consent", "no written consent", now)
        action, detail = StepAction.CALL_TASK, "no marketing consent: a call, not a text"
    if action is StepAction.TEXT:
        return _text(session, run, practice, patient, now)
    if action in (StepAction.REVIEW_ASK, StepAction.REVIEW_REMINDER):
        return _review(session, run, practice, patient, action, now)
    if action is StepAction.CALL_TASK:
        note = detail or step.body or "journey follow-up"
        task, _ = dialer.open_callback(
            session,
            practice,
            phone,
            CallbackReason.JOURNEY,
            now,
            patient_id=patient.id,
            note=f"{step.journey.name}: {note}"[:200],
        )
        run.callback_task_id = task.id
        return _finish(run, RunState.DONE, "call_task", detail, now)
    return _alert(session, run, practice, patient, now)


def _text(
    session: Session,
    run: StepRun,
    practice: Practice,
    patient: Patient,
    now: datetime,
    link: str = "",
) -> Ran:
    step = run.step
    body = step.body.format_map(
        {
            "first_name": _first_word(patient.first_name) or "there",
            "practice": practice.name,
            "link": link,
        }
    )
    kind = (
        MessageKind.MARKETING if step.consent_class is ConsentClass.MARKETING else MessageKind.CARE
    )
    try:
        message = messaging.send_sms(
            session,
            practice,
            patient.phone,
            body,
            kind,
            now,
            dedupe_key=f"journey-run:{run.id}",
            # Only reached for marketing once the ledger holds the patient's written consent.
            marketing_consent=kind is MessageKind.MARKETING
            and has_marketing_consent(session, practice.id, patient.phone),
        )
    except messaging.SmsRefused as exc:
        return _finish(run, RunState.SKIPPED, exc.reason[:40], str(exc), now)
    except InvalidInput as exc:  # a practice's edited text names a treatment
        return _finish(run, RunState.SKIPPED, "phi", str(exc), now)
    run.message_id = message.id
    schedule_delivery(session, message.id, message.send_after)
    return _finish(run, RunState.DONE, "text", None, now)


def _review(
    session: Session,
    run: StepRun,
    practice: Practice,
    patient: Patient,
    action: StepAction,
    now: datetime,
) -> Ran:
    """The review ask (the same public link for everyone, within the 6-month cap) or its one
    reminder (unless the link was clicked)."""
    if action is StepAction.REVIEW_ASK:
        found = reviews.ask_for(session, practice.id, patient.id, run.appointment_id, now)
        if isinstance(found, str):
            return _finish(run, RunState.SKIPPED, found, None, now)
        ask = found
    else:
        earlier = reviews.ask_of_visit(session, patient.id, run.appointment_id)
        if earlier is None:
            return _finish(run, RunState.SKIPPED, "no_review_ask", None, now)
        if earlier.clicks:
            return _finish(run, RunState.SKIPPED, "clicked", None, now)
        ask = earlier
    link = f"{current_settings().public_base_url.rstrip('/')}/rv/{ask.token}"
    ran = _text(session, run, practice, patient, now, link)
    if action is StepAction.REVIEW_ASK and ran.state is RunState.SKIPPED:
        session.delete(ask)  # never sent: it does not count against the cap
    return ran


def _first_word(name: str | None) -> str:
    """A first name as a text may carry it: one word, at most 20 characters (160 in all)."""
    words = (name or "").split()
    return words[0][:20] if words else ""


def _alert(
    session: Session, run: StepRun, practice: Practice, patient: Patient, now: datetime
) -> Ran:
    """An internal alert: a PHI-free text to the practice's manager number."""
    if not practice.manager_phone:
        return _finish(run, RunState.SKIPPED, "no_manager_phone", None, now)
    text = (
        f"{practice.name}: a journey step needs attention (patient #{patient.id}). See the console."
    )
    try:
        message = messaging.send_sms(
            session,
            practice,
            practice.manager_phone,
            text,
            MessageKind.STAFF_ALERT,
            now,
            dedupe_key=f"journey-run:{run.id}",
        )
    except (messaging.SmsRefused, InvalidInput) as exc:
        return _finish(run, RunState.SKIPPED, "alert_refused", str(exc), now)
    run.message_id = message.id
    schedule_delivery(session, message.id, message.send_after)
    return _finish(run, RunState.DONE, "alert", None, now)


def _finish(run: StepRun, state: RunState, outcome: str, detail: str | None, now: datetime) -> Ran:
    run.state = state
    run.outcome = outcome
    run.detail = detail[:500] if detail else None
    run.finished_at = now
    logger.info("journey step run_id=%s %s outcome=%s", run.id, state.value, outcome)
    return Ran(run.id, state, outcome)


def _condition_holds(
    session: Session, run: StepRun, condition: StepCondition, now: datetime
) -> bool:
    if condition is StepCondition.NONE:
        return False
    others = (Appointment.patient_id == run.patient_id) & (Appointment.id != run.appointment_id)
    if condition is StepCondition.BOOKED_SINCE:
        # Booked after the event and not cancelled since (a no-show rebooked, a consultation
        # followed by a booked visit).
        live = Appointment.status.in_([*HELD, *VISITED])
        return bool(
            session.scalar(
                select(exists().where(others, live, Appointment.created_at >= run.event_at))
            )
        )
    if condition is StepCondition.RETURNED:
        future = Appointment.status.in_(list(HELD)) & (Appointment.start_at > now)
        visited = Appointment.status.in_(VISITED) & (Appointment.start_at > run.event_at)
        return bool(session.scalar(select(exists().where(others, future | visited))))
    appointment = session.get(Appointment, run.appointment_id) if run.appointment_id else None
    needs = bool(appointment and appointment.service.needs_checkin)
    if condition is StepCondition.NEEDS_CHECKIN:
        return needs
    return not needs  # NO_CHECKIN_NEEDED
