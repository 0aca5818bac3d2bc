"""Click to dial: a coordinator calls a callback task's patient from the console softphone,
through the TwiML App's Voice URL. The call is the task's current attempt: tracked, never
doubled by the dialer, and only ever to a callback of the coordinator's own practice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.models import Practice
from contact_center.simulator import Answer, Caller, DialPlan, SimulatedCall, TwilioSimulator
from routing.dialer_models import AttemptOutcome, AttemptState
from routing.models import CallbackStatus, CallbackTask, Presence, PresenceState
from tests.conftest import at_local
from tests.dialer.support import PATIENT, attempts, post_lead
from tests.factories import make_coordinator, make_practice
from tests.outbound import patient_dials, rest_requests, run_jobs

LA = "America/Los_Angeles"
VOICE_URL = "/twilio/client/outgoing"
STATUS_URL = "/twilio/client/status"


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def call_back(
    twilio: TwilioSimulator, identity: str, task_id: int | None, callee: Caller | None = None
) -> SimulatedCall:
    params = {"To": PATIENT}
    if task_id is not None:
        params["CallbackTaskId"] = str(task_id)
    return twilio.softphone_call(identity, params, VOICE_URL, STATUS_URL, callee=callee)


def test_a_coordinator_calls_a_lead_back_and_the_dialer_stands_aside(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    ava = make_coordinator(session, practice, "ava", state=PresenceState.AWAY)  # nobody free
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)  # the lead's text; the dialer finds nobody free

    patient_answers = Caller(answers=[Answer(digits="1")], dials=[DialPlan("completed", 240)])
    sim = call_back(twilio, "ava", task_id, patient_answers)

    (dial,) = patient_dials(sim)
    assert dial["target"] == PATIENT
    assert f'callerId="{practice.phone_number}"' in sim.last(VOICE_URL).body
    assert sim.errors == []
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.state, a.outcome, a.coordinator_id) for a in rows] == [
        (1, AttemptState.DONE, AttemptOutcome.CONNECTED, ava.id)
    ]
    assert rows[0].coordinator_call_sid == sim.call_sid
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.DONE
    assert session.get_one(Presence, ava.id).state is PresenceState.AVAILABLE
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []  # the dialer never called this patient


def test_no_answer_is_an_attempt_and_the_cadence_goes_on(
    session: Session, client: FlaskClient, twilio: TwilioSimulator, practice: Practice
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]

    sim = call_back(twilio, "ava", task_id, Caller(dials=[DialPlan("no-answer", 0)]))

    assert "did not answer" in sim.said
    rows = attempts(session, task_id)
    assert [(a.attempt_no, a.state, a.outcome) for a in rows] == [
        (1, AttemptState.DONE, AttemptOutcome.NO_ANSWER),
        (2, AttemptState.SCHEDULED, None),
    ]
    assert rows[1].due_at == clock.now() + timedelta(minutes=5)  # the practice's cadence


def test_only_open_callbacks_of_the_coordinators_own_practice_are_dialed(
    session: Session, client: FlaskClient, twilio: TwilioSimulator, practice: Practice
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    other = make_practice(session, name="Other Clinic", timezone=LA)
    make_coordinator(session, other, "olga", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]

    make_coordinator(session, practice, "cara", state=PresenceState.ON_CALL)
    sim = call_back(twilio, "cara", task_id)
    assert patient_dials(sim) == [] and "finish your current call first" in sim.said
    refusals = [
        call_back(twilio, "olga", task_id),  # another practice's coordinator
        call_back(twilio, "ava", None),  # a bare number: the softphone is not a phone
        call_back(twilio, "ava", 999_999),  # no such task
    ]
    for sim in refusals:
        assert patient_dials(sim) == []
        assert "not placed" in sim.said or "placed from a callback" in sim.said
    assert [a.state for a in attempts(session, task_id)] == [AttemptState.SCHEDULED]

    clock.pin(at_local(LA, 2026, 11, 24, 21, 30))  # 9:30 PM for a Los Angeles patient
    sim = call_back(twilio, "ava", task_id)
    assert patient_dials(sim) == [] and "8 AM to 9 PM" in sim.said
    assert [a.state for a in attempts(session, task_id)] == [AttemptState.SCHEDULED]


def test_a_callback_the_dialer_is_ringing_is_not_dialed_twice(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava")  # free: the dialer rings her for the lead
    make_coordinator(session, practice, "ben", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    run_jobs(redis)
    assert len(rest_requests(session, "Calls")) == 1  # ava's softphone is ringing
    sim = call_back(twilio, "ben", task_id)
    assert patient_dials(sim) == [] and "another coordinator" in sim.said
    (attempt,) = attempts(session, task_id)
    assert attempt.state is AttemptState.RINGING


def test_after_a_stop_the_call_is_not_placed_and_the_callback_ends(
    session: Session, client: FlaskClient, twilio: TwilioSimulator, practice: Practice
) -> None:
    from tests.outbound import text_in

    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    text_in(twilio, PATIENT, practice.phone_number, "STOP")
    sim = call_back(twilio, "ava", task_id)
    assert patient_dials(sim) == []
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.CANCELED


def test_a_possible_opt_out_blocks_the_call_button_until_someone_decides(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    from tests.outbound import text_in

    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    task_id = post_lead(client, session, practice)["callback_task_id"]
    assert text_in(twilio, PATIENT, practice.phone_number, "not interested") == (200, None)
    sim = call_back(twilio, "ava", task_id)
    assert patient_dials(sim) == []
    assert "may be an opt-out" in sim.said
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.OPEN  # kept
