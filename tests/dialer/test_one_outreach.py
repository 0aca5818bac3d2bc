"""One patient, one outreach per practice: new reasons join the open callback task, attempts
across every reason are capped per rolling 24 hours, one attempt at a time, and the database
refuses a second open task for one number even when two arrive at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.models import Practice
from contact_center.simulator import Caller, DialPlan, TwilioSimulator
from contact_center.web import practice_settings
from routing import dialer, outreach, sla
from routing.dialer_models import AttemptState, CallbackAttempt, DialerSettings
from routing.models import CallbackReason, CallbackStatus, CallbackTask, PresenceState
from tests.conftest import at_local
from tests.dialer.support import PATIENT, attempts, post_lead
from tests.dialer.test_dialer import reconcile
from tests.factories import make_coordinator, make_practice
from tests.outbound import Leg, patient_dials, play_outbound, rest_requests, run_jobs, text_in

LA = "America/Los_Angeles"
NO_ANSWER = Leg(patient=DialPlan("no-answer", 0))


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def open_tasks(session: Session, phone: str = PATIENT) -> list[CallbackTask]:
    session.expire_all()
    return list(
        session.scalars(
            select(CallbackTask).where(
                CallbackTask.phone == phone, CallbackTask.status.in_(outreach.OPEN_STATES)
            )
        )
    )


def test_a_lead_and_a_text_from_one_patient_share_one_cadence(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")
    task_id = post_lead(client, session, practice)["callback_task_id"]
    text_in(twilio, PATIENT, practice.phone_number, "Hi, do you have anything Saturday?")
    second = post_lead(client, session, practice, key="k-2")["callback_task_id"]
    run_jobs(redis)
    assert second == task_id
    (task,) = open_tasks(session)
    assert outreach.reasons_of(session, task.id) == [
        CallbackReason.LEAD,
        CallbackReason.SMS,
        CallbackReason.LEAD,
    ]
    assert len(rest_requests(session, "Calls")) == 1  # one dial, not one per reason
    assert [a.attempt_no for a in attempts(session, task_id)] == [1]


def test_attempts_across_reasons_are_capped_at_three_a_day(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    session.add(
        DialerSettings(practice_id=practice.id, cadence="now, 5m", max_attempts=8, sla_minutes=5)
    )
    make_coordinator(session, practice, "ava")
    start = at_local(LA, 2026, 11, 24, 11, 0)
    clock.pin(start)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    for _ in range(3):
        play_outbound(twilio, rest_requests(session, "Calls")[-1], NO_ANSWER)
        run_jobs(redis)
        clock.pin(clock.now() + timedelta(minutes=5))
        reconcile(redis)
        # A new reason every time: a text, a second lead; they join and do not add dials.
        text_in(twilio, PATIENT, practice.phone_number, "still waiting")
    assert len(rest_requests(session, "Calls")) == 3
    fourth = attempts(session, task_id)[-1]
    assert fourth.attempt_no == 4 and fourth.state is AttemptState.SCHEDULED
    assert fourth.due_at == start + timedelta(hours=24)  # 24 hours after the first dial
    clock.pin(start + timedelta(hours=23, minutes=59))
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 3
    clock.pin(start + timedelta(hours=24))
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 4


def test_the_cap_is_configurable_downward_only(session: Session, practice: Practice) -> None:
    values = practice_settings.PracticeSettings(
        hours="mon-sun 00:00-24:00",
        greeting="",
        consent_mode="all_party",
        wrap_up_seconds="60",
        max_wait_seconds="180",
        cadence="now, 5m",
        max_attempts="6",
        sla_minutes="5",
        daily_cap="2",
    )
    practice_settings.update_practice(session, practice.id, values)
    assert sla.dialer_settings(session, practice.id).daily_cap == 2
    with pytest.raises(InvalidInput, match="daily cap"):
        practice_settings.update_practice(
            session,
            practice.id,
            practice_settings.PracticeSettings(**{**values.__dict__, "daily_cap": "4"}),
        )
    settings = sla.dialer_settings(session, practice.id)
    settings.daily_cap = 9  # written around the form: still capped at 3
    assert outreach.cap_of(settings) == 3


def test_a_lower_cap_holds_the_second_dial(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    session.add(
        DialerSettings(
            practice_id=practice.id, cadence="now, 5m", max_attempts=6, sla_minutes=5, daily_cap=1
        )
    )
    make_coordinator(session, practice, "ava")
    start = at_local(LA, 2026, 11, 24, 11, 0)
    clock.pin(start)
    post_lead(client, session, practice)
    run_jobs(redis)
    play_outbound(twilio, rest_requests(session, "Calls")[-1], NO_ANSWER)
    clock.pin(start + timedelta(hours=2))
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 1


def test_the_patient_is_never_bridged_twice_at_once(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    """An old second open task (from before the index) with a live attempt: the dialer's
    claim waits, and a coordinator leg that answers anyway does not bridge the patient."""
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")
    make_coordinator(session, practice, "ben")
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    (first_leg,) = rest_requests(session, "Calls")
    live = attempts(session, task_id)[0]
    assert live.state is AttemptState.RINGING
    # Close the task on paper only, and open a second one: two attempts for one patient.
    task = session.get_one(CallbackTask, task_id)
    task.status = CallbackStatus.DONE
    session.flush()
    other, second = dialer.open_callback(
        session, practice, PATIENT, CallbackReason.SMS, clock.now()
    )
    session.commit()
    assert other.id != task_id
    assert dialer.claim(session, second.id, clock.now()) == dialer.Wait(None)
    sim = play_outbound(twilio, first_leg)
    assert len(patient_dials(sim)) == 1


def test_the_database_refuses_a_second_open_task_for_one_number(
    session: Session, practice: Practice
) -> None:
    dialer.open_callback(session, practice, PATIENT, CallbackReason.LEAD, clock.now())
    session.add(
        CallbackTask(
            practice_id=practice.id,
            phone=PATIENT,
            reason=CallbackReason.SMS,
            status=CallbackStatus.OPEN,
            due_at=clock.now(),
            sla_deadline=clock.now(),
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.committed
def test_reasons_arriving_at_once_from_many_threads_open_one_task(session: Session) -> None:
    practice = make_practice(session, timezone=LA)
    session.commit()
    practice_id = practice.id
    reasons = [CallbackReason.LEAD, CallbackReason.SMS, CallbackReason.MISSED_CALL] * 4
    barrier = threading.Barrier(len(reasons))
    errors: list[BaseException] = []
    results: list[tuple[int, int]] = []

    def arrive(reason: CallbackReason) -> None:
        try:
            barrier.wait(timeout=10)
            with session_scope() as s:
                p = s.get_one(Practice, practice_id)
                task, attempt = dialer.open_callback(s, p, PATIENT, reason, clock.now())
                results.append((task.id, attempt.id))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(r,)) for r in reasons]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len({task_id for task_id, _ in results}) == 1
    assert len({attempt_id for _, attempt_id in results}) == 1
    (task,) = open_tasks(session)
    assert sorted(outreach.reasons_of(session, task.id)) == sorted(reasons)
    scheduled = session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.task_id == task.id)
    ).all()
    assert len(scheduled) == 1


def test_the_call_button_counts_and_respects_the_cap(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
) -> None:
    from tests.dialer.test_click_to_dial import call_back

    session.add(
        DialerSettings(
            practice_id=practice.id, cadence="now, 5m", max_attempts=6, sla_minutes=5, daily_cap=2
        )
    )
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    no_answer = Caller(dials=[DialPlan("no-answer", 0)])
    for _ in range(2):
        assert len(patient_dials(call_back(twilio, "ava", task_id, no_answer))) == 1
        clock.pin(clock.now() + timedelta(minutes=10))
    third = call_back(twilio, "ava", task_id, no_answer)
    assert patient_dials(third) == []
    assert "already called 2 times in the last 24 hours" in third.said
