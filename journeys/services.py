"""Journeys: the practice's defaults, turning an appointment change into step runs, and what
the reconciler and the patient page read. Session first, never commits.

    ensure_defaults(session, practice_id, now) -> list[Journey]   the active journeys
    start_for_change(session, change_id, now) -> list[StepRun]    idempotent per change
    unstarted_changes(session, now) -> list[int]                  changes a lost job left
    due_runs(session, now) -> list[int]                           runs whose time has come
    runs_for_patient(session, practice_id, patient_id) -> list[StepRun]
    backfill_reactivation(session, practice_id, now) -> int       existing patients' last visits
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from appointments.models import Appointment, AppointmentChange, AppointmentStatus, ServiceKind
from journeys.defaults import DEFAULT_JOURNEYS
from journeys.models import (
    Journey,
    JourneyEvent,
    JourneyStep,
    JourneyTrigger,
    RunState,
    StepRun,
)

logger = logging.getLogger(__name__)

# Appointment statuses that start journeys.
STARTING = (AppointmentStatus.FULFILLED, AppointmentStatus.NOSHOW)
# How far back the reconciler looks for changes whose start job Redis lost.
LOOKBACK = timedelta(days=2)


def ensure_defaults(session: Session, practice_id: int, now: datetime) -> list[Journey]:
    """The practice's active journeys, creating the shipped defaults on first use."""
    found = list(
        session.scalars(
            select(Journey)
            .where(Journey.practice_id == practice_id)
            .options(selectinload(Journey.steps))
        )
    )
    have = {j.key for j in found}
    for spec in DEFAULT_JOURNEYS:
        if spec.key in have:
            continue
        journey = Journey(
            practice_id=practice_id, key=spec.key, name=spec.name, version=1, created_at=now
        )
        journey.steps = [
            JourneyStep(
                position=i,
                event=s.event,
                delay_minutes=s.delay_minutes,
                action=s.action,
                condition=s.condition,
                consent_class=s.consent_class,
                body=s.body,
                call_without_consent=s.call_without_consent,
            )
            for i, s in enumerate(spec.steps, start=1)
        ]
        try:
            with session.begin_nested():  # two workers creating the defaults at once
                session.add(journey)
        except IntegrityError:
            continue
        found.append(journey)
    return [j for j in found if j.active]


def events_for(appointment: Appointment, status: AppointmentStatus) -> set[JourneyEvent]:
    if status is AppointmentStatus.NOSHOW:
        return {JourneyEvent.NOSHOW}
    if status is not AppointmentStatus.FULFILLED:
        return set()
    events = {JourneyEvent.FULFILLED, JourneyEvent.SINCE_VISIT}
    if appointment.service.kind is ServiceKind.CONSULTATION:
        events.add(JourneyEvent.CONSULTATION)
    return events


def start_for_change(session: Session, change_id: int, now: datetime) -> list[StepRun]:
    """Step runs for one appointment change (fulfilled or no-show), each due at the change's
    time plus its step's delay. Safe to run twice or concurrently: the change is marked in
    ``journey_triggers`` and each run is unique per step and appointment."""
    change = session.get(AppointmentChange, change_id)
    if change is None or change.to_status not in STARTING:
        return []  # booked, moved, cancelled: nothing starts (conditions stop runs at run time)
    if session.get(JourneyTrigger, change_id) is not None:
        return []
    runs: list[StepRun] = []
    try:
        with session.begin_nested():
            session.add(JourneyTrigger(change_id=change_id, processed_at=now))
    except IntegrityError:  # another worker has it
        return []
    appointment = session.get_one(Appointment, change.appointment_id)
    # A later change may have moved on (a fulfilled entered in error): the change's own status
    # counts only while the appointment still has it.
    if appointment.status is not change.to_status:
        return []
    events = events_for(appointment, change.to_status)
    for journey in ensure_defaults(session, appointment.practice_id, now):
        for step in journey.steps:
            if step.event not in events:
                continue
            run = StepRun(
                practice_id=appointment.practice_id,
                patient_id=appointment.patient_id,
                step_id=step.id,
                appointment_id=appointment.id,
                trigger_key=f"appointment:{appointment.id}",
                event_at=change.at,
                due_at=change.at + timedelta(minutes=step.delay_minutes),
                state=RunState.SCHEDULED,
                created_at=now,
            )
            if _add_run(session, run):
                runs.append(run)
    logger.info(
        "journeys started change_id=%s appointment_id=%s runs=%s",
        change_id,
        appointment.id,
        [r.id for r in runs],
    )
    return runs


def _add_run(session: Session, run: StepRun) -> bool:
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:  # this step already runs for this event
        return False
    return True


def backfill_reactivation(session: Session, practice_id: int, now: datetime) -> int:
    """Reactivation runs for patients whose last visit predates journeys (an existing
    practice): the steps still ahead of each patient's last fulfilled visit. Safe to repeat
    (one run per step and visit); post-visit steps are never backfilled, so no old visit gets
    a thank-you today. Returns the number of runs added."""
    steps = [
        step
        for journey in ensure_defaults(session, practice_id, now)
        for step in journey.steps
        if step.event is JourneyEvent.SINCE_VISIT
    ]
    last_visit = (
        select(Appointment.patient_id, func.max(Appointment.start_at).label("start_at"))
        .where(
            Appointment.practice_id == practice_id,
            Appointment.status == AppointmentStatus.FULFILLED,
        )
        .group_by(Appointment.patient_id)
        .subquery()
    )
    visits = session.scalars(
        select(Appointment)
        .join(
            last_visit,
            (Appointment.patient_id == last_visit.c.patient_id)
            & (Appointment.start_at == last_visit.c.start_at),
        )
        .where(Appointment.status == AppointmentStatus.FULFILLED)
    )
    added = 0
    for appointment in visits:
        checkout = appointment.end_at
        for step in steps:
            due = checkout + timedelta(minutes=step.delay_minutes)
            if due < now:
                continue
            run = StepRun(
                practice_id=practice_id,
                patient_id=appointment.patient_id,
                step_id=step.id,
                appointment_id=appointment.id,
                trigger_key=f"appointment:{appointment.id}",
                event_at=checkout,
                due_at=due,
                state=RunState.SCHEDULED,
                created_at=now,
            )
            added += _add_run(session, run)
    return added


def unstarted_changes(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Recent fulfilled / no-show changes no start job has handled (Redis lost it)."""
    return list(
        session.scalars(
            select(AppointmentChange.id)
            .where(
                AppointmentChange.to_status.in_(STARTING),
                AppointmentChange.at >= now - LOOKBACK,
                ~exists().where(JourneyTrigger.change_id == AppointmentChange.id),
            )
            .order_by(AppointmentChange.id)
            .limit(limit)
        )
    )


def due_runs(session: Session, now: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(StepRun.id)
            .where(StepRun.state == RunState.SCHEDULED, StepRun.due_at <= now)
            .order_by(StepRun.due_at, StepRun.id)
            .limit(limit)
        )
    )


def runs_for_patient(session: Session, practice_id: int, patient_id: int) -> list[StepRun]:
    """The patient's step runs, latest due first, with their steps and journeys."""
    return list(
        session.scalars(
            select(StepRun)
            .where(StepRun.practice_id == practice_id, StepRun.patient_id == patient_id)
            .options(selectinload(StepRun.step).selectinload(JourneyStep.journey))
            .order_by(StepRun.due_at.desc(), StepRun.id.desc())
        )
    )


# What the patient page says about a run (its outcome, in words).
OUTCOMES = {
    "text": "Text sent",
    "call_task": "Call task for a coordinator",
    "alert": "Alert to the practice",
    "opted_out": "Skipped: the patient opted out",
    "opt_out_review": "Skipped: a possible opt-out waits for a person",
    "booked_since": "Skipped: booked again since",
    "returned": "Skipped: a future appointment, or came back since",
    "needs_checkin": "Skipped: this visit gets a check-in call instead",
    "no_checkin_needed": "Skipped: no check-in call needed for this service",
    "no_marketing_consent": "Skipped: no written marketing consent",
    "phi": "Skipped: the text names a treatment",
    "no_manager_phone": "Skipped: the practice has no manager number",
    "no_review_link": "Skipped: the practice has no review link",
    "review_cap": "Skipped: asked for a review in the last 6 months",
    "no_review_ask": "Skipped: no review ask for this visit",
    "clicked": "Skipped: the review link was clicked",
}


def describe(run: StepRun) -> str:
    """The run's state in words for the patient page."""
    if run.state is RunState.SCHEDULED:
        return "Scheduled" + (f" ({run.detail})" if run.detail else "")
    words = OUTCOMES.get(run.outcome or "", f"{run.state.value}: {run.outcome}")
    return f"{words}: {run.detail}" if run.detail else words
