"""Reminders with the product's own worker process (``python -m contact_center.worker``): killed
mid-claim or mid-send (SIGKILL to it and its work horse), or with Redis flushed under it, a
reminder is sent exactly once. Real time runs in the worker, so the reminder is made due by
moving its due time in the database ("hours pass")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from appointments import catalog, reminders, services
from appointments.reminder_jobs import reconcile_reminders
from appointments.reminder_models import ReminderState
from contact_center.messaging import services as messaging
from contact_center.patients import find_or_add_patient
from tests.dialer.support import patient_in_daytime
from tests.factories import make_practice
from tests.outbound import rest_requests
from tests.workers import Stop, hold, outbox_lock, run_and_kill_a_worker, wait_for, worker

pytestmark = pytest.mark.committed
RECOVERY_TIMEOUT_S = 60.0


@pytest.fixture(autouse=True)
def _worker_logs(tmp_path: Path) -> Iterator[None]:
    yield
    for log in sorted(tmp_path.glob("worker-*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')}")


def due_reminder(session: Session) -> int:
    """A booked appointment about 30 hours away whose 24-hour reminder is due now (committed)."""
    now = datetime.now(UTC)
    phone = patient_in_daytime()
    practice = make_practice(
        session, name="Glow Aesthetics", timezone="UTC", hours="mon-sun 00:00-24:00"
    )
    service = catalog.add_service(session, practice.id, "Consult", 30, "consultation")
    patient = find_or_add_patient(session, practice.id, phone, now)
    assert patient is not None
    messaging.conversation_for(session, practice.id, phone, now, patient.id)
    quarter = (now + timedelta(hours=30)).replace(second=0, microsecond=0)
    start = quarter + timedelta(minutes=15 - quarter.minute % 15)
    appointment = services.book(session, practice.id, patient.id, service.id, start, "system", now)
    second = reminders.reminders_of(session, appointment.id)[1]
    second.due_at = now - timedelta(seconds=1)  # hours pass
    session.commit()
    return second.id


def reminder_row(engine: Engine, reminder_id: int) -> tuple[str, str | None, str | None]:
    with engine.connect() as conn:
        state, status, sid = conn.execute(
            text(
                "SELECT r.state, m.status, m.message_sid FROM appointment_reminders r "
                "LEFT JOIN sms_messages m ON m.id = r.message_id WHERE r.id = :id"
            ),
            {"id": reminder_id},
        ).one()
    return str(state), status, sid


# Inside the claim's transaction: the send function waits for the patient's conversation lock.
CLAIMING = Stop(
    "the claim",
    lambda e: hold(e, "SELECT id FROM sms_conversations FOR UPDATE"),
    "sms_conversations",
)
REQUEST = Stop("the REST request", outbox_lock, "INSERT INTO twilio_requests")


@pytest.mark.parametrize("kill_point", ["claiming", "requesting"])
def test_a_worker_killed_mid_reminder_sends_it_exactly_once(
    session: Session, engine: Engine, redis: Redis, tmp_path: Path, kill_point: str
) -> None:
    reminder_id = due_reminder(session)
    reconcile_reminders()  # the ticker's enqueue
    run_and_kill_a_worker(engine, tmp_path, [CLAIMING] if kill_point == "claiming" else [REQUEST])
    if kill_point == "claiming":
        assert reminder_row(engine, reminder_id) == ("scheduled", None, None)  # nothing kept
    else:
        assert reminder_row(engine, reminder_id) == ("queued", "sending", None)
        with engine.begin() as conn:  # minutes pass: the send is stale
            conn.execute(text("UPDATE sms_messages SET status_at = status_at - interval '3 min'"))
    assert rest_requests(session, "Messages") == []

    with worker(tmp_path, "--reconcile-every", "0.5") as second:
        wait_for(
            "the reminder to be sent",
            lambda: reminder_row(engine, reminder_id)[2] is not None,
            second,
            RECOVERY_TIMEOUT_S,
        )
        time.sleep(2.0)  # a few more reconcile rounds: nothing more is sent
    session.expire_all()
    (sent,) = rest_requests(session, "Messages")
    assert sent.form["Body"].startswith("You have an appointment at Glow Aesthetics on ")
    assert reminder_row(engine, reminder_id) == ("queued", "queued", sent.response_sid)


def test_redis_flushed_under_a_running_worker_loses_no_reminder(
    session: Session, engine: Engine, redis: Redis, tmp_path: Path
) -> None:
    reminder_id = due_reminder(session)
    reconcile_reminders()
    redis.flushdb()  # the queued job is gone
    with worker(tmp_path, "--reconcile-every", "0.5") as running:
        wait_for(
            "the reminder to be sent",
            lambda: reminder_row(engine, reminder_id)[2] is not None,
            running,
            RECOVERY_TIMEOUT_S,
        )
        redis.flushdb()  # and again while it runs
        time.sleep(2.0)
    session.expire_all()
    assert len(rest_requests(session, "Messages")) == 1
    assert reminder_row(engine, reminder_id)[0] == ReminderState.QUEUED.value
