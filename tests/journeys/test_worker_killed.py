"""A real worker killed in the middle of a journey step (SIGKILL to it and its work horse) loses
and doubles nothing: the step's run, its text and its state change are one transaction, so the
next worker's reconciler finds the run still scheduled and does it once.

Real time runs in the worker, so the visit is placed in the real past."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments import services as booking
from contact_center.db import utcnow
from contact_center.messaging.models import Message
from contact_center.patients import find_or_add_patient
from journeys.models import RunState, StepRun
from tests.factories import make_practice
from tests.workers import BLOCKED_TIMEOUT_S, blocked_on, hold, wait_for, worker

pytestmark = pytest.mark.committed

# The ticker runs the reconcilers (often, yet leaving the realtime queue idle between ticks).
QUEUES = ("default", "--reconcile-every", "3")


def thank_you(session: Session) -> StepRun:
    session.expire_all()
    return session.scalars(select(StepRun).order_by(StepRun.due_at, StepRun.id)).first()  # type: ignore[return-value]


def test_a_worker_killed_mid_step_loses_and_doubles_nothing(
    session: Session, engine: Engine, redis: Redis, tmp_path: Path
) -> None:
    now = utcnow()
    checkout = now - timedelta(minutes=31)  # the thank-you came due a minute ago
    early = now - timedelta(hours=2)  # on a 15-minute slot boundary
    start = early.replace(minute=early.minute - early.minute % 15, second=0, microsecond=0)
    practice = make_practice(session, name="Glow Aesthetics", timezone="America/Los_Angeles")
    catalog.add_provider(session, practice.id, "Dana")
    service = catalog.add_service(session, practice.id, "Visit", 30, "treatment")
    patient = find_or_add_patient(session, practice.id, "+13105550188", now)
    assert patient is not None
    appointment = booking.book(
        session, practice.id, patient.id, service.id, start, "system", start - timedelta(days=1)
    )
    booking.mark(session, appointment.id, "arrived", "system", start)
    booking.mark(session, appointment.id, "fulfilled", "system", checkout)
    session.commit()  # the start job is enqueued

    # Stop the worker where the step writes its text, inside the run's transaction; kill it.
    lock = hold(engine, "LOCK TABLE sms_messages IN SHARE MODE")
    try:
        with worker(tmp_path, *QUEUES) as first:
            wait_for(
                "the step's text to block",
                blocked_on(engine, "INSERT INTO sms_messages"),
                first,
                BLOCKED_TIMEOUT_S,
            )
            first.kill()
    finally:
        lock.rollback()
        lock.close()
    run = thank_you(session)
    assert run.state is RunState.SCHEDULED and run.message_id is None
    assert session.scalar(select(func.count()).select_from(Message)) == 0

    # The next worker's reconciler does it, once.
    with worker(tmp_path, *QUEUES) as second:
        wait_for(
            "the step to run",
            lambda: thank_you(session).state is RunState.DONE,
            second,
            60.0,
        )
        second.stop()
    run = thank_you(session)
    assert run.outcome == "text" and run.message_id is not None
    messages = session.scalars(select(Message)).all()
    assert [m.id for m in messages] == [run.message_id]
    assert messages[0].dedupe_key == f"journey-run:{run.id}"
