"""One way to start work after a commit (``after_commit``), RQ's unique jobs, and the one table
of periodic jobs: on real Redis and PostgreSQL."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy.orm import Session

from contact_center import clock, create_app, runtime
from contact_center.db import session_scope
from contact_center.jobs import DEFAULT, REALTIME, after_commit, enqueue
from contact_center.models import Practice
from contact_center.schedule import SCHEDULE
from contact_center.settings import Settings
from contact_center.simulator import DialPlan, TwilioSimulator
from routing import dialer_jobs
from routing.dialer_models import AttemptOutcome, AttemptState, DialerSettings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BASE_URL, at_local, flask_transport
from tests.dialer.support import attempts, post_lead
from tests.factories import make_coordinator, make_practice
from tests.outbound import Leg, play_outbound, rest_requests, run_jobs

LA = "America/Los_Angeles"


def noted(value: str) -> str:
    """A job for these tests (RQ imports it by path in the worker)."""
    return value


def queued(redis: Redis, name: str = DEFAULT) -> list[str]:
    return list(Queue(name, connection=redis).job_ids)


def test_work_starts_only_when_the_transaction_commits(
    app: Flask, session: Session, redis: Redis
) -> None:
    with session_scope() as s:
        after_commit(s, noted, "a", job_id="noted-a")
        after_commit(s, noted, "a", job_id="noted-a")  # once per transaction
        assert queued(redis) == []  # nothing before the commit
    assert queued(redis) == ["noted-a"]

    with pytest.raises(RuntimeError), session_scope() as s:
        after_commit(s, noted, "b", job_id="noted-b")
        raise RuntimeError("the transaction fails")
    assert queued(redis) == ["noted-a"]  # rolled back: never started


@pytest.fixture
def app_without_redis(app: Flask, settings: Settings) -> Iterator[Flask]:
    dead = create_app(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    runtime.install(settings)
    try:
        yield dead
    finally:
        runtime.install(settings)


def test_failed_enqueue_after_commit_keeps_the_commit_and_raises_nothing(
    app_without_redis: Flask, session: Session, settings: Settings
) -> None:
    runtime.install(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    with session_scope() as s:
        practice = make_practice(s, name="Kept Aesthetics")
        after_commit(s, noted, "c", job_id="noted-c")
    assert session.get(Practice, practice.id) is not None


def test_dialer_outcome_with_redis_down_is_no_apology(
    session: Session,
    client: object,
    app_without_redis: Flask,
    redis: Redis,
    settings: Settings,
) -> None:
    """The callback's outcome is saved, and the next attempt is due; Redis away when the
    dialer's webhook enqueues it must not make the coordinator hear "Sorry"."""
    practice = make_practice(session, name="Glow Aesthetics", timezone=LA)
    session.add(
        DialerSettings(practice_id=practice.id, cadence="now, 5m", max_attempts=3, sla_minutes=5)
    )
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    task_id = post_lead(client, session, practice)["callback_task_id"]  # type: ignore[arg-type]
    run_jobs(redis)
    [call] = rest_requests(session, "Calls")

    runtime.install(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    twilio = TwilioSimulator(
        BASE_URL, AUTH_TOKEN, ACCOUNT_SID, flask_transport(app_without_redis.test_client())
    )
    played = play_outbound(twilio, call, Leg(patient=DialPlan("no-answer", 0)))
    assert played.errors == []
    assert "Sorry" not in played.said, played.said
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.outcome) for a in rows][0] == (1, AttemptOutcome.NO_ANSWER)
    assert rows[-1].state is AttemptState.SCHEDULED

    # Redis is back: the reconciler finds the due attempt in the database and dials it.
    runtime.install(settings)
    clock.pin(rows[-1].due_at + timedelta(seconds=1))
    dialer_jobs.reconcile_due()
    run_jobs(redis)
    assert len(rest_requests(session, "Calls")) == 2


def test_racing_enqueues_of_one_job_id_make_one_job(
    app: Flask, session: Session, redis: Redis, settings: Settings
) -> None:
    """RQ's unique enqueue: check and create are one step in Redis, so requests racing for
    the same job id (a burst of leads for one practice) queue it once."""
    for round_no in range(5):
        barrier = threading.Barrier(16)

        def racer(n: int = round_no, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            enqueue(settings, noted, "x", queue=REALTIME, job_id=f"race-{n}")

        threads = [threading.Thread(target=racer) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    ids = queued(redis, REALTIME)
    assert sorted(ids) == [f"race-{n}" for n in range(5)], ids


def test_a_finished_job_id_can_run_again(app: Flask, redis: Redis, settings: Settings) -> None:
    enqueue(settings, noted, "y", job_id="again-y")
    run_jobs(redis)
    job = enqueue(settings, noted, "y", job_id="again-y")
    assert job.get_status() == "queued"
    assert queued(redis) == ["again-y"]


def test_one_table_of_periodic_jobs() -> None:
    """Every entry has its own job id and names a function that takes no arguments."""
    ids = [entry.job_id for entry in SCHEDULE]
    assert len(ids) == len(set(ids)), ids
    funcs = [entry.func for entry in SCHEDULE]
    assert len(funcs) == len(set(funcs)), funcs
    for entry in SCHEDULE:
        module, name = entry.func.rsplit(".", 1)
        func = getattr(importlib.import_module(module), name)
        assert callable(func)
        assert func.__code__.co_argcount == len(func.__defaults__ or ()), entry
