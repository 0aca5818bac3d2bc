"""Callbacks from calls are dialed like leads: a missed call, an after-hours call, a voicemail
and a queued callback each get dialed on the practice's cadence from the next allowed minute
(practice hours, then the patient's quiet hours), without anybody pressing "Call"."""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator
from ivr.models import Call
from routing import services as routing
from routing.dialer_models import AttemptOutcome, CallbackAttempt
from routing.models import CallbackReason, CallbackStatus, CallbackTask, PresenceState
from tests.conftest import at_local
from tests.dialer.test_dialer import reconcile
from tests.factories import make_coordinator, make_practice
from tests.outbound import Leg, patient_dials, play_outbound, rest_requests, run_jobs

LA = "America/Los_Angeles"
NY = "America/New_York"
PATIENT = "+13105550142"
CONSULT = [Answer(digits="1"), Answer(digits="1")]  # consent yes, new consultation


def task_of(session: Session, call_sid: str) -> CallbackTask:
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
    return session.scalars(select(CallbackTask).where(CallbackTask.source_call_id == call.id)).one()


def dialed_patients(session: Session, twilio: TwilioSimulator) -> list[str]:
    """Play every coordinator leg placed so far; the numbers the bridges dialed."""
    return [
        d["target"]
        for r in rest_requests(session, "Calls")
        for d in patient_dials(play_outbound(twilio, r))
    ]


def test_a_missed_call_in_hours_is_dialed_back_at_once(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session, timezone=LA)
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    ava = make_coordinator(session, practice, "ava")
    # Ava does not pick up the inbound call (set away), nobody else: voicemail, hang up.
    sim = twilio.call(PATIENT, practice.phone_number, Caller(answers=list(CONSULT)))
    task = task_of(session, sim.call_sid)
    assert task.reason in (CallbackReason.MISSED_CALL, CallbackReason.NO_COORDINATOR)
    routing.set_presence(session, ava.id, PresenceState.AVAILABLE, clock.now())
    session.commit()
    run_jobs(redis)
    assert dialed_patients(session, twilio) == [PATIENT]
    session.refresh(task)
    assert task.status is CallbackStatus.DONE


def test_an_after_hours_call_is_dialed_at_the_opening_not_before(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session, timezone=LA, hours="mon-fri 09:00-18:00")
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(LA, 2026, 11, 24, 22, 30))  # Tuesday night
    sim = twilio.call(PATIENT, practice.phone_number, Caller(voicemail_seconds=[12]))
    task = task_of(session, sim.call_sid)
    assert task.reason is CallbackReason.AFTER_HOURS
    run_jobs(redis)
    clock.pin(at_local(LA, 2026, 11, 25, 8, 59))
    reconcile(redis)
    assert rest_requests(session, "Calls") == []
    clock.pin(at_local(LA, 2026, 11, 25, 9, 0))
    reconcile(redis)
    assert dialed_patients(session, twilio) == [PATIENT]


def test_an_east_coast_caller_to_a_west_coast_practice_waits_for_their_8am(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    """The practice opens at 5 AM Pacific: 8 AM in New York is the first allowed minute."""
    practice = make_practice(session, timezone=LA, hours="mon-fri 05:00-18:00")
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(LA, 2026, 11, 24, 22, 30))
    sim = twilio.call("+12125550142", practice.phone_number, Caller(voicemail_seconds=[12]))
    task = task_of(session, sim.call_sid)
    (attempt,) = session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.task_id == task.id)
    ).all()
    assert task.due_at == at_local(LA, 2026, 11, 25, 5, 0)
    assert attempt.due_at == at_local(NY, 2026, 11, 25, 8, 0)


def test_a_voicemail_with_nobody_signed_in_is_dialed_on_the_cadence(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session, timezone=LA)
    ava = make_coordinator(session, practice, "ava", state=PresenceState.AWAY)
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=list(CONSULT), voicemail_seconds=[20])
    )
    task = task_of(session, sim.call_sid)
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []
    routing.set_presence(session, ava.id, PresenceState.AVAILABLE, clock.now())
    session.commit()
    reconcile(redis)  # the worker's ticker finds the due attempt and a free coordinator
    (leg,) = rest_requests(session, "Calls")
    play_outbound(twilio, leg, Leg(patient=DialPlan("no-answer", 0)))
    run_jobs(redis)
    clock.pin(clock.now() + timedelta(minutes=5))  # the default cadence: now, 5m, ...
    reconcile(redis)
    assert len(rest_requests(session, "Calls")) == 2
    outcomes = [
        a.outcome
        for a in session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.task_id == task.id)
            .order_by(CallbackAttempt.attempt_no)
        )
    ]
    assert outcomes == [AttemptOutcome.NO_ANSWER, None]


def test_a_queued_callback_is_dialed_when_its_turn_comes(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(session, timezone=LA)
    practice.max_wait_seconds = 180
    ben = make_coordinator(session, practice, "ben", state=PresenceState.WRAP_UP)
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    asker = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(answers=list(CONSULT), hold_answers=[Answer(digits="*"), Answer(digits="2")]),
    )
    assert asker.ended
    task = task_of(session, asker.call_sid)
    assert task.status is CallbackStatus.HELD
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []  # held: it keeps the caller's place only
    clock.pin(clock.now() + timedelta(minutes=1))
    routing.set_presence(session, ben.id, PresenceState.AVAILABLE, clock.now())
    session.commit()
    run_jobs(redis)
    assert dialed_patients(session, twilio) == [PATIENT]
