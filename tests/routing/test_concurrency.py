"""200 simultaneous calls, 20 coordinators, many threads, real commits on PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.models import Practice
from contact_center.simulator import new_sid
from contact_center.voice import Dial, Enqueue, Script
from ivr import services as ivr
from ivr.models import Call, CallEvent, CallStatus, Direction, MenuChoice
from routing import services as routing
from routing.models import Presence, PresenceState, QueueEntry, QueueStatus
from tests.factories import make_coordinator, make_practice

CALLS, COORDINATORS = 200, 20
OPTIONS = ivr.VoiceOptions()


def setup_line(state: PresenceState) -> tuple[int, list[int], list[str]]:
    """A practice, its coordinators (in ``state``) and 200 calls past the menu, committed."""
    now = clock.now()
    with session_scope() as s:
        practice: Practice = make_practice(s)
        users = [
            make_coordinator(s, practice, state=state, idle_since=now - timedelta(minutes=n + 1))
            for n in range(COORDINATORS)
        ]
        sids = [new_sid("CA") for _ in range(CALLS)]
        for i, sid in enumerate(sids):
            s.add(
                Call(
                    practice_id=practice.id,
                    call_sid=sid,
                    direction=Direction.INBOUND,
                    from_number=f"+1310555{i:04d}",
                    to_number=practice.phone_number,
                    status=CallStatus.IN_PROGRESS,
                    menu_choice=MenuChoice.CONSULTATION,
                    started_at=now,
                )
            )
        return practice.id, [u.id for u in users], sids


def arrive(call_sid: str) -> Script:
    with session_scope() as s:
        call = ivr.call_by_sid(s, call_sid)
        return ivr.connect_to_coordinator(s, call, clock.now(), OPTIONS)


def run_threads(targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.committed
def test_200_simultaneous_calls_20_coordinators_no_one_reserved_twice(
    session: Session, redis: Redis
) -> None:
    practice_id, users, sids = setup_line(PresenceState.AVAILABLE)
    start = threading.Barrier(CALLS)
    scripts: dict[str, Script] = {}
    errors: list[BaseException] = []

    def one(sid: str) -> Callable[[], None]:
        def go() -> None:
            start.wait()
            try:
                scripts[sid] = arrive(sid)
            except BaseException as exc:  # reported below, with the thread's call
                errors.append(exc)

        return go

    run_threads([one(sid) for sid in sids])
    assert errors == []
    rung = [
        step.clients[0].identity
        for sc in scripts.values()
        for step in sc.steps
        if isinstance(step, Dial)
    ]
    queued = [sid for sid, sc in scripts.items() if any(isinstance(x, Enqueue) for x in sc.steps)]
    assert len(rung) == COORDINATORS and len(set(rung)) == COORDINATORS
    assert len(queued) == CALLS - COORDINATORS
    reserved = session.scalars(select(Presence).where(Presence.user_id.in_(users))).all()
    assert {p.state for p in reserved} == {PresenceState.RESERVED}
    assert len({p.call_sid for p in reserved}) == COORDINATORS
    statuses = Counter(
        session.scalars(select(QueueEntry.status).where(QueueEntry.practice_id == practice_id))
    )
    assert statuses == {QueueStatus.ASSIGNED: 20, QueueStatus.WAITING: 180}
    # The rung callers are the first 20 to arrive (entry ids number the arrivals).
    entries = session.scalars(
        select(QueueEntry).where(QueueEntry.practice_id == practice_id).order_by(QueueEntry.id)
    ).all()
    assert [e.status for e in entries[:20]] == [QueueStatus.ASSIGNED] * 20


@pytest.mark.committed
def test_coordinators_freeing_up_while_calls_arrive_serve_everyone_once_in_order(
    session: Session, redis: Redis
) -> None:
    practice_id, users, sids = setup_line(PresenceState.WRAP_UP)
    served: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    deadline = time.monotonic() + 90

    def caller(sid: str, delay: float) -> Callable[[], None]:
        def go() -> None:
            time.sleep(delay)
            try:
                arrive(sid)
            except BaseException as exc:
                errors.append(exc)

        return go

    def coordinator(user_id: int) -> Callable[[], None]:
        def go() -> None:
            rng = random.Random(user_id)
            try:
                time.sleep(rng.uniform(0, 0.2))
                with session_scope() as s:  # wrap-up over: available, offered the next caller
                    routing.set_presence(s, user_id, PresenceState.AVAILABLE, clock.now())
                while time.monotonic() < deadline:
                    with lock:
                        if len(served) >= CALLS:
                            return
                    with session_scope() as s:
                        held = s.get_one(Presence, user_id)
                        sid = held.call_sid if held.state is PresenceState.RESERVED else None
                        if sid is not None:  # pick up, talk, hang up: wrap-up
                            routing.mark_on_call(s, user_id, sid, clock.now())
                            routing.finish_call(s, user_id, sid, clock.now())
                    if sid is None:
                        time.sleep(0.02)
                        continue
                    with lock:
                        served.append(sid)
                    time.sleep(rng.uniform(0, 0.01))
                    with session_scope() as s:
                        routing.set_presence(s, user_id, PresenceState.AVAILABLE, clock.now())
            except BaseException as exc:
                errors.append(exc)

        return go

    arrivals = [caller(sid, i * 0.002) for i, sid in enumerate(sids)]
    run_threads(arrivals + [coordinator(u) for u in users])
    assert errors == []
    assert len(served) == CALLS and len(set(served)) == CALLS  # everyone, once
    statuses = Counter(
        session.scalars(select(QueueEntry.status).where(QueueEntry.practice_id == practice_id))
    )
    assert statuses == {QueueStatus.ANSWERED: CALLS}
    # Assignments (timeline "assigned", written under the practice's lock) follow arrivals.
    assigned = (
        session.execute(
            select(CallEvent.detail)
            .where(CallEvent.practice_id == practice_id, CallEvent.kind == "assigned")
            .order_by(CallEvent.id)
        )
        .scalars()
        .all()
    )
    order = [d["entry_id"] for d in assigned]
    assert len(order) == CALLS and order == sorted(order)
