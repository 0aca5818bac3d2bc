"""The SLA watch at volume: every missed deadline is flagged in one sweep, whatever the count,
and a task looked at once (started in time but still open, done, canceled) is never looked at
again."""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import clock
from routing import dialer_jobs, sla
from routing.dialer_models import AttemptState, CallbackAttempt, SlaBreach
from routing.models import CallbackReason, CallbackStatus, CallbackTask
from tests.conftest import at_local
from tests.factories import make_practice

LA = "America/Los_Angeles"


def _task(session: Session, practice_id: int, n: int, deadline_ago: timedelta) -> CallbackTask:
    now = clock.now()
    task = CallbackTask(
        practice_id=practice_id,
        phone=f"+1310555{n:04d}",
        reason=CallbackReason.LEAD,
        status=CallbackStatus.OPEN,
        due_at=now - deadline_ago - timedelta(minutes=5),
        sla_deadline=now - deadline_ago,
        created_at=now - deadline_ago - timedelta(minutes=5),
    )
    session.add(task)
    return task


def test_one_sweep_flags_every_missed_deadline_behind_hundreds_started_in_time(
    session: Session, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 15, 0))
    practice = make_practice(session, timezone=LA)
    # 260 tasks with the oldest deadlines were started in time and are still open (a cadence
    # under way): the old sweep looked at the 200 oldest, found nothing, and never got further.
    started = [_task(session, practice.id, n, timedelta(hours=3, seconds=n)) for n in range(260)]
    never_dialed = [
        _task(session, practice.id, 1000 + n, timedelta(hours=1, seconds=n)) for n in range(240)
    ]
    session.flush()
    for task in started:
        session.add(
            CallbackAttempt(
                task_id=task.id,
                practice_id=practice.id,
                attempt_no=1,
                state=AttemptState.SCHEDULED,
                due_at=task.due_at,
                dialed_at=task.due_at + timedelta(minutes=1),
            )
        )
    session.flush()

    dialer_jobs.reconcile_due()  # what the worker's ticker runs

    flagged = set(session.scalars(select(SlaBreach.task_id)))
    assert flagged == {t.id for t in never_dialed}
    unchecked = session.scalar(
        select(func.count()).select_from(CallbackTask).where(CallbackTask.sla_checked_at.is_(None))
    )
    assert unchecked == 0  # the started-in-time ones too: marked, never looked at again
    assert sla.detect_breaches(session, clock.now()) == []
    assert redis is not None


def test_a_small_page_still_reaches_every_task(session: Session) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 15, 0))
    practice = make_practice(session, timezone=LA)
    tasks = [_task(session, practice.id, n, timedelta(minutes=10 + n)) for n in range(23)]
    tasks[0].status, tasks[0].closed_at = CallbackStatus.DONE, tasks[0].sla_deadline
    tasks[1].status = CallbackStatus.CANCELED
    tasks[1].closed_at = tasks[1].sla_deadline - timedelta(minutes=1)
    session.flush()
    found = sla.detect_breaches(session, clock.now(), page=5)
    assert sorted(b.task_id for b in found) == sorted(t.id for t in tasks[2:])
    # A deadline not reached yet is not looked at (nor marked).
    later = _task(session, practice.id, 99, -timedelta(minutes=5))
    session.flush()
    assert sla.detect_breaches(session, clock.now()) == []
    assert later.sla_checked_at is None
    clock.pin(clock.now() + timedelta(minutes=6))
    assert [b.task_id for b in sla.detect_breaches(session, clock.now())] == [later.id]
