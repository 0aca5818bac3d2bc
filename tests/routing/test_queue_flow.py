"""Inbound routing through the Twilio test harness: ring order, queue, overflow, redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.models import Membership, Practice
from contact_center.simulator import SILENCE, Answer, Caller, DialPlan, TwilioSimulator
from recordings.models import Recording
from routing import jobs as routing_jobs
from routing import services as routing
from routing.models import (
    CallbackReason,
    CallbackStatus,
    CallbackTask,
    Presence,
    PresenceChange,
    PresenceState,
    QueueStatus,
)
from tests.conftest import drain_queues
from tests.factories import make_coordinator, make_practice
from tests.openapi import problems
from tests.routing.support import PATIENTS, call_row, entry_of, events, kinds, redirects

CONSULT = [Answer(digits="1"), Answer(digits="1")]  # consent yes, new consultation


def caller(**kw: object) -> Caller:
    return Caller(answers=list(CONSULT), **kw)  # type: ignore[arg-type]


def practice_with(session: Session, max_wait_seconds: int = 180, **kw: object) -> Practice:
    practice = make_practice(session, **kw)
    practice.max_wait_seconds = max_wait_seconds
    session.flush()
    return practice


@pytest.fixture
def practice(session: Session) -> Practice:
    return practice_with(session, name="Glow Aesthetics")


def busy(session: Session, practice: Practice, identity: str = "busy") -> None:
    """A coordinator on another call: the practice is staffed, nobody is free."""
    make_coordinator(session, practice, identity, state=PresenceState.ON_CALL)


def presence(session: Session, user_id: int) -> Presence:
    return session.get_one(Presence, user_id, populate_existing=True)


def test_calls_go_to_the_longest_idle_coordinator_first(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    now = clock.now()
    make_coordinator(session, practice, "recent", idle_since=now - timedelta(minutes=2))
    make_coordinator(session, practice, "longest", idle_since=now - timedelta(hours=1))
    make_coordinator(session, practice, "middle", idle_since=now - timedelta(minutes=20))
    sims = [
        twilio.call(PATIENTS[i], practice.phone_number, caller(dials=[DialPlan()]))
        for i in range(3)
    ]
    assert [s.dialed[0]["target"] for s in sims] == ["longest", "middle", "recent"]
    assert all(s.errors == [] for s in sims)
    assert sims[0].whispers == ["Glow Aesthetics, new consultation."]


def test_menu_choice_narrows_to_skilled_coordinators_and_people_serve_several_practices(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    now = clock.now()
    other = make_practice(session, name="Skin Studio")
    shared = make_coordinator(session, practice, "shared", idle_since=now - timedelta(hours=2))
    # The same person works for Skin Studio too.
    make_coordinator(session, other, "shared", idle_since=now - timedelta(hours=2))
    consult = make_coordinator(session, practice, "consult", idle_since=now - timedelta(hours=1))
    membership = session.scalars(select(Membership).where(Membership.user_id == consult.id)).one()
    membership.skills = "consultation"
    session.flush()
    # "existing appointment" is not a skill anyone lists: any coordinator takes it.
    existing = twilio.call(
        PATIENTS[0],
        practice.phone_number,
        Caller(answers=[Answer(digits="1"), Answer(digits="2")], dials=[DialPlan("completed")]),
    )
    assert existing.dialed[0]["target"] == "shared"
    # Shared is in wrap-up now; Skin Studio's caller still finds nobody else, and queues.
    at_other = twilio.call(PATIENTS[1], other.phone_number, caller())
    assert at_other.waiting and at_other.dialed == []
    # A consultation goes to the skilled coordinator.
    consultation = twilio.call(PATIENTS[2], practice.phone_number, caller(dials=[DialPlan()]))
    assert consultation.dialed[0]["target"] == "consult"
    assert entry_of(session, consultation.call_sid).skill == "consultation"
    # When shared's wrap-up ends, Skin Studio's waiter is offered to them.
    clock.pin(now + timedelta(minutes=5))
    routing_jobs.reconcile()
    assert entry_of(session, at_other.call_sid).assigned_user_id == shared.id


def test_ring_no_answer_sets_away_tries_the_next_then_queues(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    now = clock.now()
    first = make_coordinator(session, practice, "first", idle_since=now - timedelta(hours=1))
    second = make_coordinator(session, practice, "second", idle_since=now - timedelta(minutes=1))
    busy(session, practice)
    sim = twilio.call(
        PATIENTS[0],
        practice.phone_number,
        caller(dials=[DialPlan("no-answer", 0), DialPlan("busy", 0)]),
    )
    assert [d["target"] for d in sim.dialed] == ["first", "second"]
    assert presence(session, first.id).state is PresenceState.AWAY
    assert presence(session, second.id).state is PresenceState.AWAY
    assert sim.waiting and sim.errors == []
    assert "the next available coordinator will be with you" in sim.said
    timeline = kinds(session, sim.call_sid)
    assert timeline.count("ring") == 2 and "queued" in timeline
    reasons = session.scalars(
        select(PresenceChange.reason).where(PresenceChange.user_id == first.id)
    ).all()
    assert "ring_no_answer" in reasons


def test_position_and_an_honest_estimate_are_announced_while_waiting(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    busy(session, practice)
    sims = [
        twilio.call(PATIENTS[i], practice.phone_number, caller(hold_passes=2)) for i in range(3)
    ]
    assert all(s.waiting for s in sims)
    assert "You are next in line." in sims[0].said
    # One staffed coordinator, no history: (240 s talk + 60 s wrap-up) per caller ahead.
    assert "You are number 3 in line." in sims[2].said
    assert "We expect to answer your call in about 15 minutes." in sims[2].said
    assert "press star at any time" in sims[2].said
    wait_post = sims[2].last("/twilio/queue/wait")
    assert wait_post.form["QueuePosition"] == "3" and wait_post.form["CurrentQueueSize"] == "3"
    assert wait_post.form["QueueTime"] == "30"
    queued = events(session, sims[2].call_sid, "queued")[0]
    assert queued.detail["position"] == 3
    assert events(session, sims[2].call_sid, "position")[0].detail["position"] == 3
    # The first caller hangs up: the third moves up.
    twilio.hang_up(sims[0])
    twilio.hold(sims[2], caller(hold_passes=1))
    assert sims[2].heard[-4:-2] == [
        "You are number 2 in line.",
        "We expect to answer your call in about 10 minutes.",
    ]


def test_the_longest_waiter_is_redirected_to_a_coordinator_who_becomes_available(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    ava = make_coordinator(session, practice, "ava")
    first = twilio.call(PATIENTS[0], practice.phone_number, caller(dials=[DialPlan()]))
    assert first.dialed[0]["target"] == "ava"
    assert presence(session, ava.id).state is PresenceState.WRAP_UP
    second_caller, third_caller = caller(dials=[DialPlan("completed", 40)]), caller()
    second = twilio.call(PATIENTS[1], practice.phone_number, second_caller)
    third = twilio.call(PATIENTS[2], practice.phone_number, third_caller)
    assert second.waiting and third.waiting
    assert redirects(session) == []

    clock.pin(clock.now() + timedelta(seconds=61))  # wrap-up ends by itself
    counts = routing_jobs.reconcile()
    assert counts["wrap_up_ended"] == 1
    assert presence(session, ava.id).state is PresenceState.RESERVED
    assert presence(session, ava.id).call_sid == second.call_sid
    assert drain_queues(redis) >= 1  # the REST redirect, after commit
    drain_queues(redis)  # a duplicate dequeue event changes nothing
    routing_jobs.redirect_waiter(entry_of(session, second.call_sid).id)
    sent = redirects(session)
    assert len(sent) == 1 and second.call_sid in sent[0].url
    assert problems(sent[0].method, sent[0].url, sent[0].form) == []

    delivered = twilio.deliver_redirects([(second, second_caller), (third, third_caller)], sent)
    assert delivered == 1
    assert twilio.deliver_redirects([(third, third_caller)], sent) == 0  # each request once
    assert second.queue_results == ["redirected"] and second.ended
    assert second.dialed == [{"noun": "Client", "target": "ava", "status": "completed"}]
    assert third.waiting
    entry = entry_of(session, second.call_sid)
    assert entry.status is QueueStatus.ANSWERED and entry.assigned_user_id == ava.id
    assert call_row(session, second.call_sid).answered_by_id == ava.id
    timeline = kinds(session, second.call_sid)
    assert timeline.index("queued") < timeline.index("assigned") < timeline.index("ring")
    assert timeline.index("ring") < timeline.index("answered")
    answered = events(session, second.call_sid, "answered")[0]
    assert answered.detail["user_id"] == ava.id and answered.detail["wait_s"] >= 61


@pytest.mark.parametrize(
    ("key", "status", "reason"),
    [
        ("1", QueueStatus.VOICEMAIL, CallbackReason.VOICEMAIL),
        ("2", QueueStatus.CALLBACK, CallbackReason.QUEUE_CALLBACK),
    ],
)
def test_after_the_maximum_wait_the_caller_takes_voicemail_or_a_callback(
    session: Session,
    twilio: TwilioSimulator,
    key: str,
    status: QueueStatus,
    reason: CallbackReason,
) -> None:
    practice = practice_with(session, max_wait_seconds=60)
    busy(session, practice)
    sim = twilio.call(
        PATIENTS[0],
        practice.phone_number,
        caller(
            hold_passes=3,
            hold_answers=[SILENCE, SILENCE, Answer(digits=key)],
            voicemail_seconds=[12],
        ),
    )
    assert sim.ended and sim.queue_results == ["leave"] and sim.errors == []
    assert "We're sorry for the wait." in sim.said
    entry = entry_of(session, sim.call_sid)
    assert entry.status is status and entry.wait_seconds == 60
    task = session.scalars(select(CallbackTask)).one()
    assert task.reason is reason and task.phone == PATIENTS[0]
    overflow = events(session, sim.call_sid, "overflow")[0]
    assert overflow.detail["wait_s"] == 60
    call = call_row(session, sim.call_sid)
    if key == "1":
        assert "leave your name, number" in sim.said
        assert session.scalars(select(Recording).where(Recording.call_id == call.id)).one()
        assert task.status is CallbackStatus.OPEN
    else:
        assert "You keep your place in line" in sim.said
        assert task.status is CallbackStatus.HELD  # not dialed before the caller's turn


def test_star_while_waiting_asks_for_a_callback_that_keeps_the_place(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    now = clock.now()
    ben = make_coordinator(session, practice, "ben", state=PresenceState.WRAP_UP)
    asker = twilio.call(
        PATIENTS[0],
        practice.phone_number,
        caller(hold_answers=[Answer(digits="*"), Answer(digits="2")]),
    )
    behind = twilio.call(PATIENTS[1], practice.phone_number, caller())
    assert asker.ended and behind.waiting
    assert "You are number 2 in line." in behind.said  # the callback kept its place ahead
    task = session.scalars(select(CallbackTask)).one()
    assert task.status is CallbackStatus.HELD
    # Ben is free: the callback reaches the head of the line and opens for the dialer, and
    # Ben takes the live caller behind it (inbound callers come before callbacks).
    clock.pin(now + timedelta(minutes=1))
    routing.set_presence(session, ben.id, PresenceState.AVAILABLE, clock.now())
    session.refresh(task)
    assert task.status is CallbackStatus.OPEN and task.due_at == clock.now()
    assert entry_of(session, asker.call_sid).status is QueueStatus.CALLBACK_DUE
    assert entry_of(session, behind.call_sid).assigned_user_id == ben.id
    assert "callback_due" in kinds(session, asker.call_sid)


def test_a_caller_who_hangs_up_while_waiting_is_recorded_as_abandoned(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    busy(session, practice)
    sim = twilio.call(
        PATIENTS[0], practice.phone_number, caller(hold_passes=2, hang_up_in_queue=True)
    )
    assert sim.ended and sim.queue_results == ["hangup"]
    entry = entry_of(session, sim.call_sid)
    assert entry.status is QueueStatus.ABANDONED and entry.wait_seconds == 60
    abandoned = events(session, sim.call_sid, "abandoned")[0]
    assert abandoned.detail == {"wait_s": 60}
    task = session.scalars(select(CallbackTask)).one()  # the status callback: a missed call
    assert task.reason is CallbackReason.MISSED_CALL


def test_inbound_callers_come_before_callback_tasks(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> None:
    cleo = make_coordinator(session, practice, "cleo", state=PresenceState.WRAP_UP)
    sim = twilio.call(PATIENTS[0], practice.phone_number, caller())
    assert routing.inbound_waiting(session, practice.id)
    assert routing.waiting_caller_for(session, cleo.id) is not None
    routing.set_presence(session, cleo.id, PresenceState.AVAILABLE, clock.now())
    assert presence(session, cleo.id).call_sid == sim.call_sid  # the caller, not a callback
    assert routing.waiting_caller_for(session, cleo.id) is None
    # With a waiter, the dialer's reservation skips coordinators who could take them.
    other = twilio.call(PATIENTS[1], practice.phone_number, caller())
    dana = make_coordinator(session, practice, "dana")
    assert other.waiting
    assert (
        routing.reserve_coordinator(
            session, practice.id, "outbound-1", clock.now(), inbound_first=True
        )
        is None
    )
    assert routing.reserve_coordinator(session, practice.id, "outbound-1", clock.now()) == dana
