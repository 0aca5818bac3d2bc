"""Quiet hours are checked again when the patient's leg would be dialed, not only when the
coordinator's leg is placed (issue 11: placed at 20:59:58 Eastern, bridged at 21:00:15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.models import Practice
from contact_center.simulator import TwilioSimulator
from routing import dialer_jobs
from routing.dialer_models import AttemptOutcome, AttemptState
from routing.models import Presence, PresenceState
from tests.conftest import at_local
from tests.dialer.support import attempts, post_lead
from tests.factories import make_coordinator, make_practice
from tests.outbound import patient_dials, play_outbound, rest_requests, run_jobs, text_in

LA = "America/Los_Angeles"
NY = "America/New_York"


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


@pytest.mark.parametrize(
    ("phone", "closes"),
    [("+12125550142", 21), ("+13055550142", 20)],  # New York (federal), Miami (Florida)
)
def test_a_patient_whose_hours_closed_while_the_coordinator_rang_is_not_dialed(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
    phone: str,
    closes: int,
) -> None:
    ava = make_coordinator(session, practice, "ava")
    clock.pin(at_local(NY, 2026, 11, 24, closes - 1, 59, 58))
    task_id = post_lead(client, session, practice, phone=phone)["callback_task_id"]
    run_jobs(redis)
    calls = rest_requests(session, "Calls")
    assert [c.form["To"] for c in calls] == ["client:ava"]  # placed in time

    clock.pin(at_local(NY, 2026, 11, 24, closes, 0, 15))  # answered after the window closed
    leg = play_outbound(twilio, calls[0])
    assert patient_dials(leg) == []
    assert "calling hours have just ended" in leg.said
    assert "rescheduled for Wednesday at 5:00 AM" in leg.said  # 8 AM Eastern, practice's time
    [attempt] = attempts(session, task_id)
    assert attempt.state is AttemptState.SCHEDULED
    assert attempt.due_at == at_local(NY, 2026, 11, 25, 8, 0)
    assert attempt.patient_dialed_at is None
    session.expire_all()
    assert session.get_one(Presence, ava.id).state is PresenceState.AVAILABLE

    # Nothing happens overnight; at 8 AM Eastern the same attempt dials the patient once.
    clock.pin(at_local(NY, 2026, 11, 25, 7, 59))
    dialer_jobs.reconcile_due()
    run_jobs(redis)
    assert len(rest_requests(session, "Calls")) == 1
    clock.pin(at_local(NY, 2026, 11, 25, 8, 0))
    dialer_jobs.reconcile_due()
    run_jobs(redis)
    calls = rest_requests(session, "Calls")
    assert len(calls) == 2
    leg = play_outbound(twilio, calls[1])
    assert len(patient_dials(leg)) == 1
    [attempt] = attempts(session, task_id)
    assert (attempt.attempt_no, attempt.outcome) == (1, AttemptOutcome.CONNECTED)


def test_a_patient_leg_inside_the_window_is_dialed(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(NY, 2026, 11, 24, 20, 59, 30))
    post_lead(client, session, practice, phone="+12125550142")
    run_jobs(redis)
    clock.pin(clock.now() + timedelta(seconds=20))  # 20:59:50: still allowed
    leg = play_outbound(twilio, rest_requests(session, "Calls")[0])
    assert len(patient_dials(leg)) == 1


def test_a_possible_opt_out_while_the_coordinator_rang_keeps_the_patient_undialed(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    phone = "+13105550142"
    task_id = post_lead(client, session, practice, phone=phone)["callback_task_id"]
    run_jobs(redis)
    [call] = rest_requests(session, "Calls")
    status, reply = text_in(twilio, phone, practice.phone_number, "who is this? wrong number")
    assert (status, reply) == (200, None)
    leg = play_outbound(twilio, call)
    assert patient_dials(leg) == []
    assert "review it in the inbox" in leg.said
    [attempt] = attempts(session, task_id)
    assert attempt.state is AttemptState.SCHEDULED
    assert attempt.due_at >= clock.now() + timedelta(minutes=59)
