"""The callback dialer with a real rq burst worker: cadence, quiet hours, priorities, SLA watch,
and durability when Redis is flushed mid-cadence (a worker killed mid-dial: test_worker_killed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.leads import services as leads
from contact_center.messaging import services as messaging
from contact_center.messaging.jobs import reconcile_texts
from contact_center.messaging.models import MessagingSettings
from contact_center.models import Practice
from contact_center.simulator import DialPlan, TwilioSimulator, new_sid
from ivr.jobs import reconcile_text_backs
from ivr.models import Call, CallStatus, Direction
from routing import dialer, dialer_jobs, sla
from routing.dialer_models import AttemptOutcome, AttemptState, CallbackAttempt, DialerSettings
from routing.models import CallbackStatus, CallbackTask, Presence, PresenceState
from tests.conftest import at_local
from tests.dialer.support import PATIENT, attempts, post_lead
from tests.factories import make_coordinator, make_practice
from tests.outbound import Leg, patient_dials, play_outbound, rest_requests, run_jobs, text_in

LA = "America/Los_Angeles"
NY = "America/New_York"
NO_ANSWER = Leg(patient=DialPlan("no-answer", 0))


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def reconcile(redis: Redis) -> None:
    """What the worker's ticker runs on the realtime queue."""
    dialer_jobs.reconcile_due()
    reconcile_texts()
    reconcile_text_backs()
    run_jobs(redis)


def test_cadence_steps_and_quiet_hours(session: Session, practice: Practice) -> None:
    settings = sla.dialer_settings(session, practice.id)
    end = at_local(LA, 2026, 11, 24, 11, 0)  # Tuesday
    due = [sla.next_attempt_due(practice, settings, n, PATIENT, end) for n in range(2, 7)]
    assert due == [
        end + timedelta(minutes=5),
        end + timedelta(hours=1),
        at_local(LA, 2026, 11, 25, 9, 0),  # next morning
        end + timedelta(days=1),
        end + timedelta(days=1),  # the last step repeats
    ]
    late = at_local(LA, 2026, 11, 24, 20, 30)  # +1 h lands at 9:30 PM: waits for 8 AM
    assert sla.next_attempt_due(practice, settings, 3, PATIENT, late) == at_local(
        LA, 2026, 11, 25, 8, 0
    )
    with pytest.raises(Exception, match="cadence"):
        sla.parse_cadence("now, soon")


def test_attempts_follow_the_cadence_and_stop_at_the_limit(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    session.add(
        DialerSettings(
            practice_id=practice.id, cadence="now, 5m, 1h", max_attempts=3, sla_minutes=5
        )
    )
    make_coordinator(session, practice, "ava")
    start = at_local(LA, 2026, 11, 24, 11, 0)
    clock.pin(start)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    outcomes = [NO_ANSWER, Leg(patient=DialPlan("busy", 0)), Leg(outcome_digits="2")]
    for i, leg in enumerate(outcomes):
        calls = rest_requests(session, "Calls")
        assert len(calls) == i + 1
        play_outbound(twilio, calls[-1], leg)
        run_jobs(redis)
        rows = attempts(session, task_id)
        if i < 2:
            assert rows[-1].state is AttemptState.SCHEDULED
            assert rows[-1].due_at == clock.now() + [timedelta(minutes=5), timedelta(hours=1)][i]
            clock.pin(rows[-1].due_at)
            reconcile(redis)
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.outcome) for a in rows] == [
        (1, AttemptOutcome.NO_ANSWER),
        (2, AttemptOutcome.BUSY),
        (3, AttemptOutcome.VOICEMAIL),
    ]
    task = session.get_one(CallbackTask, task_id)
    assert task.status is CallbackStatus.CANCELED and "3 attempts" in (task.note or "")
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 3


def test_coordinator_who_does_not_answer_is_set_away_and_the_next_one_rings(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    first = make_coordinator(
        session, practice, "longest", idle_since=clock.now() - timedelta(hours=1)
    )
    make_coordinator(session, practice, "recent", idle_since=clock.now() - timedelta(minutes=1))
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    play_outbound(twilio, rest_requests(session, "Calls")[0], Leg(coordinator="no-answer"))
    run_jobs(redis)
    calls = rest_requests(session, "Calls")
    assert [c.form["To"] for c in calls] == ["client:longest", "client:recent"]
    assert session.get_one(Presence, first.id).state is PresenceState.AWAY
    sim = play_outbound(twilio, calls[1])
    assert len(patient_dials(sim)) == 1
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.tries, a.outcome) for a in rows] == [(1, 2, AttemptOutcome.CONNECTED)]


def test_a_9pm_eastern_lead_for_a_pacific_practice_waits_for_8am_eastern(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    make_coordinator(session, practice, "ava")
    ny_patient = "+12125550142"
    clock.pin(at_local(NY, 2026, 11, 24, 21, 0))  # 6 PM in Los Angeles: the practice is open
    task_id = post_lead(client, session, practice, phone=ny_patient)["callback_task_id"]
    run_jobs(redis)
    assert len(rest_requests(session, "Messages")) == 1  # the reply to the form: at once
    assert rest_requests(session, "Calls") == []  # the call: not at 9 PM in New York
    assert attempts(session, task_id)[0].due_at == at_local(NY, 2026, 11, 25, 8, 0)
    clock.pin(at_local(NY, 2026, 11, 25, 7, 59))
    reconcile(redis)
    assert rest_requests(session, "Calls") == []
    clock.pin(at_local(NY, 2026, 11, 25, 8, 0))
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 1


def test_inbound_callers_go_first(
    session: Session, client: FlaskClient, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")
    caller = Call(
        practice_id=practice.id,
        call_sid=new_sid("CA"),
        direction=Direction.INBOUND,
        from_number="+13105550199",
        to_number=practice.phone_number,
        status=CallStatus.IN_PROGRESS,
        started_at=clock.now() - timedelta(seconds=40),
    )
    session.add(caller)
    session.flush()
    post_lead(client, session, practice)
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []
    caller.status, caller.ended_at = CallStatus.COMPLETED, clock.now()
    session.flush()
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 1


def test_opt_out_or_an_answered_inbound_call_stops_the_cadence(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    ava = make_coordinator(session, practice, "ava")
    stopped = post_lead(client, session, practice)["callback_task_id"]
    called = post_lead(client, session, practice, phone="+13105550143", key="k-2")[
        "callback_task_id"
    ]
    run_jobs(redis)
    play_outbound(twilio, rest_requests(session, "Calls")[0], NO_ANSWER)
    run_jobs(redis)
    play_outbound(twilio, rest_requests(session, "Calls")[1], NO_ANSWER)
    assert text_in(twilio, PATIENT, practice.phone_number, "STOP")[1] is not None
    session.add(
        Call(
            practice_id=practice.id,
            call_sid=new_sid("CA"),
            direction=Direction.INBOUND,
            from_number="+13105550143",
            to_number=practice.phone_number,
            status=CallStatus.COMPLETED,
            answered_by_id=ava.id,
            started_at=clock.now(),
        )
    )
    session.flush()
    clock.pin(clock.now() + timedelta(minutes=6))
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 2
    assert session.get_one(CallbackTask, stopped).status is CallbackStatus.CANCELED
    assert session.get_one(CallbackTask, called).status is CallbackStatus.DONE
    assert attempts(session, called)[-1].state is AttemptState.CANCELED
    assert messaging.is_opted_out(session, practice.id, PATIENT)


def test_sla_breach_is_recorded_once_shown_and_texted_to_the_manager(
    session: Session, client: FlaskClient, practice: Practice, redis: Redis
) -> None:
    practice.manager_phone = "+14155550199"
    session.add(MessagingSettings(practice_id=practice.id, alert_manager_on_breach=True))
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    secret = leads.create_api_key(session, practice, clock.now())
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    clock.pin(clock.now() + timedelta(minutes=4))
    reconcile(redis)
    response = client.get("/api/callbacks/breaches", headers={"Authorization": f"Bearer {secret}"})
    assert response.get_json() == {"breaches": []}
    clock.pin(clock.now() + timedelta(minutes=2))
    reconcile(redis)
    reconcile(redis)
    body = client.get(
        "/api/callbacks/breaches", headers={"Authorization": f"Bearer {secret}"}
    ).get_json()
    assert [(b["task_id"], b["manager_alerted"]) for b in body["breaches"]] == [(task_id, True)]
    alerts = [r for r in rest_requests(session, "Messages") if r.form["To"] == "+14155550199"]
    assert len(alerts) == 1
    assert (
        "has not been started" in alerts[0].form["Body"] and PATIENT not in alerts[0].form["Body"]
    )


def test_started_in_time_is_no_breach(
    session: Session, client: FlaskClient, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")
    post_lead(client, session, practice)
    run_jobs(redis)
    clock.pin(clock.now() + timedelta(minutes=30))
    with session_scope() as s:
        assert sla.detect_breaches(s, clock.now()) == []


def test_redis_flushed_mid_cadence_loses_nothing_and_doubles_nothing(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    play_outbound(twilio, rest_requests(session, "Calls")[0], NO_ANSWER)
    assert redis.zcard("rq:scheduled:realtime") == 1  # attempt 2, scheduled in five minutes
    redis.flushdb()  # Redis is lost: the schedule with it
    clock.pin(clock.now() + timedelta(minutes=5))
    reconcile(redis)
    reconcile(redis)  # and again: nothing doubles
    calls = rest_requests(session, "Calls")
    assert len(calls) == 2
    play_outbound(twilio, calls[1])
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.outcome) for a in rows] == [
        (1, AttemptOutcome.NO_ANSWER),
        (2, AttemptOutcome.CONNECTED),
    ]
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.DONE
    dialer_jobs.dial_attempt(rows[1].id)
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 2


def test_an_attempt_number_exists_once(session: Session, practice: Practice) -> None:
    from sqlalchemy.exc import IntegrityError

    task, first = dialer.open_callback(
        session, practice, PATIENT, dialer.CallbackReason.LEAD, clock.now()
    )
    session.add(
        CallbackAttempt(
            task_id=task.id,
            practice_id=practice.id,
            attempt_no=1,
            state=AttemptState.SCHEDULED,
            due_at=clock.now(),
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
