"""Who handles what: coordinator presence, reservation for a call, callback tasks.

Assignment is atomic on every backend: a reservation is a conditional UPDATE
(``state = 'available'`` in the WHERE clause), so two calls can never reserve the same person;
on PostgreSQL the candidate is also locked with ``FOR UPDATE SKIP LOCKED`` so concurrent calls
pick different people instead of queueing on one row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput, NotFound
from contact_center.hours import OpeningHours
from contact_center.models import Membership, Practice, Role, User
from routing.models import (
    CallbackReason,
    CallbackStatus,
    CallbackTask,
    Presence,
    PresenceState,
)

logger = logging.getLogger(__name__)

# States a coordinator may set themselves; reserved and on_call come from calls.
SETTABLE = {PresenceState.AVAILABLE, PresenceState.AWAY, PresenceState.OFFLINE}
DEFAULT_SLA = timedelta(minutes=5)
AFTER_HOURS_GRACE = timedelta(minutes=15)


def user_by_identity(session: Session, identity: str) -> User:
    user = session.scalars(select(User).where(User.identity == identity)).one_or_none()
    if user is None:
        raise NotFound(f"no coordinator with identity {identity!r}")
    return user


def presence_of(session: Session, user_id: int, now: datetime) -> Presence:
    presence = session.get(Presence, user_id)
    if presence is None:
        presence = Presence(user_id=user_id, state=PresenceState.OFFLINE, changed_at=now)
        session.add(presence)
        session.flush()
    return presence


def set_presence(session: Session, user_id: int, state: PresenceState, now: datetime) -> Presence:
    """Change a coordinator's state; becoming available starts their idle clock.

    Raises InvalidInput for states that only calls may set (reserved, on_call).
    """
    if state not in SETTABLE and state is not PresenceState.WRAP_UP:
        raise InvalidInput(f"presence {state.value!r} is set by calls, not by hand", "state")
    presence = presence_of(session, user_id, now)
    if presence.state is not state:
        if state is PresenceState.AVAILABLE:
            presence.idle_since = now
        presence.state = state
        presence.changed_at = now
        if state in (PresenceState.AVAILABLE, PresenceState.OFFLINE, PresenceState.AWAY):
            presence.call_sid = None
    return presence


def reserve_coordinator(
    session: Session,
    practice_id: int,
    call_sid: str,
    now: datetime,
    exclude_user_ids: Iterable[int] = (),
) -> User | None:
    """Reserve the practice's longest-idle available coordinator for ``call_sid``.

    Idempotent: a coordinator already reserved for this call is returned again.
    Returns None when nobody is available.
    """
    held = session.scalars(
        select(Presence).where(
            Presence.call_sid == call_sid, Presence.state == PresenceState.RESERVED
        )
    ).first()
    if held is not None:
        return session.get(User, held.user_id)
    excluded = list(exclude_user_ids)
    for _ in range(5):  # another call may win the race for a candidate: pick again
        query = (
            select(Presence.user_id)
            .join(Membership, Membership.user_id == Presence.user_id)
            .where(
                Membership.practice_id == practice_id,
                Membership.role == Role.COORDINATOR,
                Presence.state == PresenceState.AVAILABLE,
            )
            .order_by(Presence.idle_since.asc().nulls_first(), Presence.user_id)
            .limit(1)
        )
        if excluded:
            query = query.where(Presence.user_id.not_in(excluded))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Presence, skip_locked=True)
        user_id = session.scalars(query).first()
        if user_id is None:
            return None
        won = session.execute(
            update(Presence)
            .where(Presence.user_id == user_id, Presence.state == PresenceState.AVAILABLE)
            .values(state=PresenceState.RESERVED, call_sid=call_sid, changed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won == 1:
            session.expire_all()
            return session.get(User, user_id)
        excluded.append(user_id)
    return None


def mark_on_call(session: Session, user_id: int, call_sid: str, now: datetime) -> None:
    presence = presence_of(session, user_id, now)
    presence.state = PresenceState.ON_CALL
    presence.call_sid = call_sid
    presence.changed_at = now


def release_coordinator(
    session: Session, user_id: int, call_sid: str, state: PresenceState, now: datetime
) -> bool:
    """Free a coordinator from ``call_sid`` into ``state``; False if they had moved on already."""
    presence = presence_of(session, user_id, now)
    if presence.call_sid != call_sid:
        return False
    presence.state = state
    presence.call_sid = None
    presence.changed_at = now
    if state is PresenceState.AVAILABLE:
        presence.idle_since = now
    return True


def callback_due(practice: Practice, now: datetime) -> tuple[datetime, datetime]:
    """When a callback should start and its SLA deadline: now + 5 min in hours;
    after hours, the next opening (+15 min to reach the patient)."""
    hours = OpeningHours.parse(practice.hours_spec)
    zone = ZoneInfo(practice.timezone)
    if hours.is_open(now, zone):
        return now, now + DEFAULT_SLA
    opening = hours.next_opening(now, zone) or now
    return opening, opening + AFTER_HOURS_GRACE


def create_callback_task(
    session: Session,
    practice: Practice,
    phone: str,
    reason: CallbackReason,
    now: datetime,
    *,
    patient_id: int | None = None,
    source_call_id: int | None = None,
    note: str | None = None,
) -> CallbackTask:
    """Open a callback task with its SLA; one per source call however often it is asked for."""
    if source_call_id is not None:
        existing = session.scalars(
            select(CallbackTask).where(CallbackTask.source_call_id == source_call_id)
        ).one_or_none()
        if existing is not None:
            return existing
    due_at, deadline = callback_due(practice, now)
    task = CallbackTask(
        practice_id=practice.id,
        patient_id=patient_id,
        phone=phone,
        reason=reason,
        source_call_id=source_call_id,
        status=CallbackStatus.OPEN,
        due_at=due_at,
        sla_deadline=deadline,
        note=note,
        created_at=now,
    )
    session.add(task)
    session.flush()
    logger.info(
        "callback task %s opened practice=%s reason=%s due=%s",
        task.id, practice.id, reason.value, due_at.isoformat(),
    )
    return task
