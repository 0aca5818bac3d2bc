"""Presence: wrap-up that ends by itself, heartbeats, reservation expiry, the JSON endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.auth import set_password, start_session
from contact_center.db import session_scope, utcnow
from contact_center.errors import Forbidden, NotFound
from contact_center.models import Practice, Role, User
from contact_center.simulator import Answer, Caller, TwilioSimulator
from contact_center.web.access import SESSION_TOKEN, SESSION_USER
from routing import jobs as routing_jobs
from routing import services as routing
from routing.models import Presence, PresenceChange, PresenceState, QueueStatus
from routing.presence import PresenceConflict
from tests.conftest import drain_queues
from tests.factories import make_coordinator, make_practice
from tests.routing.support import PATIENTS, call_row, entry_of, kinds, redirects

CONSULT = [Answer(digits="1"), Answer(digits="1")]


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics")


def state_of(session: Session, user_id: int) -> Presence:
    return session.get_one(Presence, user_id, populate_existing=True)


def test_wrap_up_ends_by_itself_unless_extended(session: Session, practice: Practice) -> None:
    ava = make_coordinator(session, practice, "ava", state=PresenceState.ON_CALL)
    state_of(session, ava.id).call_sid = "CA" + "0" * 32
    start = clock.now()
    assert routing.finish_call(session, ava.id, "CA" + "0" * 32, start)
    session.flush()
    assert state_of(session, ava.id).wrap_up_until == start + timedelta(seconds=60)
    routing.extend_wrap_up(session, ava.id, 120, start + timedelta(seconds=30))
    session.flush()
    clock.pin(start + timedelta(seconds=61))
    assert routing_jobs.reconcile()["wrap_up_ended"] == 0  # extended: still wrapping up
    routing_jobs.end_wrap_up(ava.id, start.isoformat())  # a no-op: extended
    assert state_of(session, ava.id).state is PresenceState.WRAP_UP
    clock.pin(start + timedelta(seconds=181))
    assert routing_jobs.reconcile()["wrap_up_ended"] == 1
    presence = state_of(session, ava.id)
    assert presence.state is PresenceState.AVAILABLE and presence.idle_since == clock.now()
    history = session.scalars(
        select(PresenceChange.state, PresenceChange.reason)
        .where(PresenceChange.user_id == ava.id)
        .order_by(PresenceChange.id)
    ).all()
    assert list(history)[-1] == PresenceState.AVAILABLE
    with pytest.raises(PresenceConflict):
        routing.extend_wrap_up(session, ava.id, 60, clock.now())


def test_a_silent_browser_is_set_offline(session: Session, practice: Practice) -> None:
    ava = make_coordinator(session, practice, "ava")
    ben = make_coordinator(session, practice, "ben")  # no browser ever: not judged
    start = clock.now()
    routing.heartbeat(session, ava.id, start)
    session.flush()
    clock.pin(start + timedelta(seconds=30))
    assert routing_jobs.reconcile()["offline"] == 0
    clock.pin(start + timedelta(seconds=46))  # past the 45 s heartbeat timeout
    assert routing_jobs.reconcile()["offline"] == 1
    assert state_of(session, ava.id).state is PresenceState.OFFLINE
    assert state_of(session, ben.id).state is PresenceState.AVAILABLE
    reason = session.scalars(
        select(PresenceChange.reason)
        .where(PresenceChange.user_id == ava.id)
        .order_by(PresenceChange.id.desc())
    ).first()
    assert reason == "heartbeat_timeout"


def test_an_expired_reservation_frees_the_coordinator_and_the_caller_keeps_their_place(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    ava = make_coordinator(session, practice, "ava", state=PresenceState.WRAP_UP)
    ben = make_coordinator(session, practice, "ben", state=PresenceState.WRAP_UP)
    first = twilio.call(PATIENTS[0], practice.phone_number, Caller(answers=list(CONSULT)))
    second = twilio.call(PATIENTS[1], practice.phone_number, Caller(answers=list(CONSULT)))
    start = clock.now()
    with session_scope() as entry_point:  # commits: the redirect job is enqueued after it
        routing.set_presence(entry_point, ava.id, PresenceState.AVAILABLE, start)
    assert entry_of(session, first.call_sid).assigned_user_id == ava.id
    # Ava closes her browser; the redirect is sent, but no Dial, no Dial action ever comes.
    drain_queues(redis)
    assert len(redirects(session)) == 1
    clock.pin(start + timedelta(seconds=30))
    assert routing_jobs.reconcile()["expired"] == 0
    clock.pin(start + timedelta(seconds=61))  # the reservation timeout (ring 20 s + 40 s)
    counts = routing_jobs.reconcile()
    assert counts["expired"] == 1
    assert state_of(session, ava.id).state is PresenceState.AWAY
    assert state_of(session, ava.id).call_sid is None
    entry = entry_of(session, first.call_sid)
    assert entry.status is QueueStatus.WAITING and entry.assigned_user_id is None
    assert call_row(session, first.call_sid).coordinator_id is None
    assert "requeued" in kinds(session, first.call_sid)
    # Ben frees up: the first caller (still first in line) is his, not the second.
    routing.set_presence(session, ben.id, PresenceState.AVAILABLE, clock.now())  # wrap-up done
    assert entry_of(session, first.call_sid).assigned_user_id == ben.id
    assert entry_of(session, second.call_sid).status is QueueStatus.WAITING
    twilio.hold(second, Caller(hold_passes=1))
    assert "You are next in line." in second.said


def test_presence_changes_are_refused_for_unknown_and_other_practices_users(
    session: Session, practice: Practice
) -> None:
    other = make_practice(session, name="Skin Studio")
    ava = make_coordinator(session, practice, "ava", state=PresenceState.OFFLINE)
    make_coordinator(session, other, "zoe")
    make_coordinator(session, practice, "boss", role=Role.ADMIN)
    now = clock.now()
    with pytest.raises(NotFound):
        routing.set_presence_as(session, "ava", "nobody", PresenceState.AVAILABLE, now)
    with pytest.raises(Forbidden):
        routing.set_presence_as(session, "zoe", "ava", PresenceState.AVAILABLE, now)
    with pytest.raises(Forbidden):
        routing.set_presence_as(session, "ava", "ava", PresenceState.AVAILABLE, now, other.id)
    routing.set_presence_as(session, "boss", "ava", PresenceState.AVAILABLE, now)
    assert state_of(session, ava.id).state is PresenceState.AVAILABLE
    state_of(session, ava.id).state = PresenceState.ON_CALL
    with pytest.raises(PresenceConflict):
        routing.set_presence_as(session, "ava", "ava", PresenceState.AVAILABLE, now)


def _logged_in(session: Session, client: FlaskClient, user_id: int) -> dict[str, str]:
    """A console session for ``user_id`` (as the login page would leave it)."""
    user = session.get_one(User, user_id)
    token = start_session(session, user, utcnow(), timedelta(hours=1))
    with client.session_transaction() as web_session:
        web_session[SESSION_USER] = user_id
        web_session[SESSION_TOKEN] = token
        web_session["csrf"] = "t0ken"
    return {"X-CSRF-Token": "t0ken"}


def test_queue_and_wrap_up_json_need_a_member_of_the_practice(
    session: Session, client: FlaskClient, practice: Practice
) -> None:
    other = make_practice(session, name="Skin Studio")
    ava = make_coordinator(session, practice, "ava", state=PresenceState.OFFLINE)
    zoe = make_coordinator(session, other, "zoe")
    for user in (ava, zoe):
        set_password(session, user, "correct horse battery", utcnow())
    session.flush()
    queue_url = f"/p/{practice.id}/api/routing/queue"
    extend_url = f"/p/{practice.id}/api/routing/wrap-up/extend"
    assert client.get(queue_url).status_code == 401  # nobody logged in

    headers = _logged_in(session, client, zoe.id)  # another practice's coordinator
    assert client.get(queue_url).status_code == 404
    assert client.post(extend_url, headers=headers, json={"seconds": 30}).status_code == 404

    headers = _logged_in(session, client, ava.id)
    line = client.get(queue_url).get_json()
    assert line["line"] == [] and line["coordinators"][0]["identity"] == "ava"
    after_call = state_of(session, ava.id)  # as a call's end leaves it
    after_call.state, after_call.wrap_up_until = PresenceState.WRAP_UP, clock.now()
    session.flush()
    extended = client.post(extend_url, headers=headers, json={"seconds": 90})
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["state"] == "wrap_up" and extended.get_json()["wrap_up_until"]
    assert client.post(extend_url, headers=headers, json={"seconds": "x"}).status_code == 422
