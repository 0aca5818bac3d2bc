"""A real worker process killed mid-dial or mid-text (SIGKILL to it and its work horse) loses no
lead, never dials the patient twice for the same attempt, and sends a text exactly once.

The worker is the product's own (``python -m contact_center.worker``) on the test database and
Redis. Each case stops it at a chosen point by holding, from the test, a lock the worker needs
next, waits until PostgreSQL shows the worker blocked on that statement, then kills it:

- ``claiming``: inside the claim's transaction (coordinator reserved), nothing committed;
- ``requesting``: the claim committed, the REST request to Twilio in flight and never answered
  (the sandbox's recording of it is blocked, so Twilio never got it);
- ``leg created``: Twilio created the coordinator's leg, the worker died before recording it.

A second worker, started as in production with its reconcile ticker, then recovers. Real time
runs in both processes, so "minutes later" is made by ageing the dead claim in the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from contact_center.models import Practice, TwilioRequest
from contact_center.simulator import TwilioSimulator
from routing.dialer_models import AttemptOutcome, AttemptState
from routing.models import CallbackStatus, CallbackTask, Presence, PresenceState
from routing.reconcile import STALE_CLAIM
from tests.dialer.support import attempts, patient_in_daytime, post_lead
from tests.factories import make_coordinator, make_practice
from tests.openapi import problems
from tests.outbound import patient_dials, play_outbound, rest_requests
from tests.workers import Stop, hold, outbox_lock, run_and_kill_a_worker, wait_for, worker

pytestmark = pytest.mark.committed

RECOVERY_TIMEOUT_S = 60.0


def coordinator_calls(session: Session) -> list[TwilioRequest]:
    session.expire_all()
    return [r for r in rest_requests(session, "Calls") if str(r.form["To"]).startswith("client:")]


def age_claims(session: Session, task_id: int) -> None:
    """Minutes pass: the dead worker's claim is older than the reconciler's patience."""
    session.execute(
        text(
            "UPDATE callback_attempts SET claimed_at = claimed_at - make_interval(secs => :s) "
            "WHERE task_id = :t AND state = 'claimed'"
        ),
        {"s": (STALE_CLAIM + timedelta(minutes=1)).total_seconds(), "t": task_id},
    )
    session.commit()


def claim(task_id: int) -> Stop:
    """Inside the claim's transaction, coordinator reserved: it ends by marking the task."""
    sql = "SELECT id FROM callback_tasks WHERE id = :t FOR UPDATE"
    return Stop("the claim", lambda e: hold(e, sql, t=task_id), "UPDATE callback_tasks")


def recording_the_leg(attempt_id: int) -> Stop:
    """Twilio answered with the leg's SID; recording it on the attempt waits."""
    sql = "SELECT id FROM callback_attempts WHERE id = :a FOR UPDATE"
    return Stop(
        "the leg to be recorded", lambda e: hold(e, sql, a=attempt_id), "FROM callback_attempts"
    )


# The REST request to Twilio: the sandbox's recording of it waits (so Twilio never got it).
REQUEST = Stop("the REST request", outbox_lock, "INSERT INTO twilio_requests")
# Twilio answered with the message's SID; recording it waits.
RECORDING_THE_SID = Stop(
    "the SID to be recorded",
    lambda e: hold(e, "SELECT id FROM sms_messages FOR UPDATE"),
    "UPDATE sms_messages",
)


def dial_stops(task_id: int, attempt_id: int, kill_point: str) -> list[Stop]:
    stops = [claim(task_id), REQUEST, recording_the_leg(attempt_id)]
    return stops[: ("claiming", "requesting", "leg created").index(kill_point) + 1]


def new_lead(session: Session, client: FlaskClient, practice: Practice) -> tuple[int, int]:
    """A web-form lead with SMS consent, committed: (task id, first attempt id)."""
    task_id = post_lead(client, session, practice, phone=patient_in_daytime())["callback_task_id"]
    (attempt,) = attempts(session, task_id)
    return task_id, attempt.id


@pytest.fixture(autouse=True)
def _worker_logs(tmp_path: Path) -> Iterator[None]:
    """The workers' logs, in the report of a failing test (pytest shows captured output)."""
    yield
    for log in sorted(tmp_path.glob("worker-*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')}")


@pytest.fixture
def practice(session: Session) -> Practice:
    practice = make_practice(session, name="Glow Aesthetics", timezone="America/Los_Angeles")
    session.commit()
    return practice


@pytest.mark.parametrize("kill_point", ["claiming", "requesting", "leg created"])
def test_a_worker_killed_mid_dial_loses_no_lead_and_dials_the_patient_once(
    session: Session,
    engine: Engine,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
    tmp_path: Path,
    kill_point: str,
) -> None:
    ava = make_coordinator(session, practice, "ava")
    session.commit()
    task_id, attempt_id = new_lead(session, client, practice)
    run_and_kill_a_worker(engine, tmp_path, dial_stops(task_id, attempt_id, kill_point))
    assert len(rest_requests(session, "Messages")) == 1  # the lead's text went out first

    (attempt,) = attempts(session, task_id)
    orphans = coordinator_calls(session)
    if kill_point == "claiming":
        assert (attempt.state, orphans) == (AttemptState.SCHEDULED, [])
    else:
        assert attempt.state is AttemptState.CLAIMED  # and its worker is gone
        assert session.get_one(Presence, ava.id).state is PresenceState.RESERVED
        assert len(orphans) == int(kill_point == "leg created")
        age_claims(session, task_id)

    with worker(tmp_path, "--reconcile-every", "0.5") as second:
        wait_for(
            "the lead to be dialed again",
            lambda: len(coordinator_calls(session)) == len(orphans) + 1,
            second,
            RECOVERY_TIMEOUT_S,
        )
        time.sleep(2.0)  # a few more reconcile rounds: nothing more is dialed
    legs = coordinator_calls(session)
    assert len(legs) == len(orphans) + 1, "one new leg, and only one"
    assert len({str(leg.form["Url"]) for leg in legs}) == len(legs)  # each claim its own token

    dialed = []
    for leg in legs:  # the orphan leg (if any) is answered first, late: it must not bridge
        call = play_outbound(twilio, leg)
        dialed += patient_dials(call)
        if leg is not legs[-1]:
            assert "already been handled" in call.said
    assert len(dialed) == 1, "the patient is dialed once"

    session.expire_all()
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.state, a.outcome) for a in rows] == [
        (1, AttemptState.DONE, AttemptOutcome.CONNECTED)
    ]
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.DONE
    assert len(rest_requests(session, "Messages")) == 1  # the text was not sent again
    assert session.get_one(Presence, ava.id).state is not PresenceState.RESERVED


def test_a_leg_created_before_the_kill_still_bridges_and_is_not_redialed(
    session: Session,
    engine: Engine,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
    tmp_path: Path,
) -> None:
    """The worker died after Twilio created the leg; the coordinator answers it in time."""
    make_coordinator(session, practice, "ava")
    session.commit()
    task_id, attempt_id = new_lead(session, client, practice)
    run_and_kill_a_worker(engine, tmp_path, dial_stops(task_id, attempt_id, "leg created"))
    (leg,) = coordinator_calls(session)
    call = play_outbound(twilio, leg)  # answered within the ring time, as usual
    assert len(patient_dials(call)) == 1
    age_claims(session, task_id)  # nothing is left claimed: the reconciler has nothing to do
    with worker(tmp_path, "--reconcile-every", "0.5") as second:
        time.sleep(3.0)
        assert second.process.poll() is None, second.output()
    assert len(coordinator_calls(session)) == 1
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.state, a.outcome) for a in rows] == [
        (1, AttemptState.DONE, AttemptOutcome.CONNECTED)
    ]


def message_row(engine: Engine) -> tuple[str, str | None]:
    with engine.connect() as conn:
        status, sid = conn.execute(text("SELECT status, message_sid FROM sms_messages")).one()
    return str(status), sid


@pytest.mark.parametrize("kill_point", ["requesting", "sent"])
def test_a_worker_killed_mid_text_sends_it_exactly_once(
    session: Session,
    engine: Engine,
    client: FlaskClient,
    practice: Practice,
    redis: Redis,
    tmp_path: Path,
    kill_point: str,
) -> None:
    """The lead's instant text: the worker dies with the REST request in flight (Twilio never
    got it: sent again) or after Twilio took it (the reconciler asks Twilio and adopts it)."""
    new_lead(session, client, practice)  # nobody is signed in: the text is the only work
    stops = [REQUEST, RECORDING_THE_SID] if kill_point == "sent" else [REQUEST]
    run_and_kill_a_worker(engine, tmp_path, stops)
    assert message_row(engine) == ("sending", None)
    assert len(rest_requests(session, "Messages")) == int(kill_point == "sent")
    with engine.begin() as conn:  # minutes pass
        conn.execute(text("UPDATE sms_messages SET status_at = status_at - interval '3 minutes'"))

    with worker(tmp_path, "--reconcile-every", "0.5") as second:
        wait_for(
            "the text to be accounted for",
            lambda: message_row(engine)[1] is not None,
            second,
            RECOVERY_TIMEOUT_S,
        )
        time.sleep(2.0)  # a few more reconcile rounds: nothing more is sent
    (sent,) = rest_requests(session, "Messages")  # exactly one text went to Twilio
    assert message_row(engine) == ("queued", sent.response_sid)
    lookups = [
        r
        for r in session.scalars(select(TwilioRequest).where(TwilioRequest.method == "GET"))
        if "/Messages.json" in r.url
    ]
    assert len(lookups) == 1  # Twilio was asked once before anything was decided
    assert problems("GET", lookups[0].url, lookups[0].form) == []
