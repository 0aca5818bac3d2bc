"""Coordinator assignment: who may take a call, and reserving one atomically.

Concurrency rules (PostgreSQL):
- A decision about a practice's line holds that practice's routing lock
  (``pg_advisory_xact_lock``, ``lock_practices``) until commit; several practice locks are
  always taken in ascending id order (no deadlock).
- Coordinator rows are taken with ``FOR UPDATE SKIP LOCKED`` plus a conditional UPDATE, so two
  decisions (for example two practices sharing a coordinator, or the outbound dialer) never
  reserve the same person.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    SQLColumnExpression,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from contact_center.models import Membership, Role, User
from routing.models import Presence, PresenceState, QueueEntry, QueueStatus
from routing.presence import is_postgres, transition

_LOCK_CLASS = 7301  # first key of the routing advisory locks: (7301, practice_id)


def lock_practices(session: Session, practice_ids: Iterable[int]) -> None:
    """Take the routing locks of these practices until commit, in ascending order."""
    if not is_postgres(session):
        return  # SQLite serializes writers; demos only
    for practice_id in sorted(set(practice_ids)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :obj)"),
            {"cls": _LOCK_CLASS, "obj": practice_id},
        )


def _skills_of(membership: type[Membership] = Membership) -> ColumnElement[str]:
    return literal(",") + func.replace(membership.skills, " ", "") + literal(",")


def skill_matches(skill: SQLColumnExpression[str | None] | str | None) -> ColumnElement[bool]:
    """SQL: the joined Membership may take a call needing ``skill`` (empty skills: every call)."""
    if skill is None:
        return literal(True)
    token = literal(",") + skill + literal(",") if not isinstance(skill, str) else f",{skill},"
    condition = or_(Membership.skills == "", _skills_of().contains(token))
    if isinstance(skill, str):
        return condition
    return or_(skill.is_(None), condition)


def skill_for(session: Session, practice_id: int, choice: str | None) -> str | None:
    """The skill a menu choice needs, when the practice maps it (some coordinator lists it)."""
    if choice is None:
        return None
    mapped = session.scalars(
        select(Membership.id).where(
            Membership.practice_id == practice_id,
            Membership.role == Role.COORDINATOR,
            _skills_of().contains(f",{choice},"),
        )
    ).first()
    return choice if mapped is not None else None


def is_staffed(session: Session, practice_id: int, skill: str | None) -> bool:
    """Somebody signed in (available, reserved, on a call, in wrap-up) will take this call."""
    staffed = [s for s in PresenceState if s.staffed]
    found = session.scalars(
        select(Presence.user_id)
        .join(Membership, Membership.user_id == Presence.user_id)
        .where(
            Membership.practice_id == practice_id,
            Membership.role == Role.COORDINATOR,
            Presence.state.in_(staffed),
            skill_matches(skill),
        )
        .limit(1)
    ).first()
    return found is not None


def reserve_coordinator(
    session: Session,
    practice_id: int,
    call_sid: str,
    now: datetime,
    exclude_user_ids: Iterable[int] = (),
    *,
    skill: str | None = None,
    inbound_first: bool = False,
) -> User | None:
    """Reserve the practice's longest-idle available coordinator for ``call_sid``.

    Idempotent: a coordinator already reserved for this call is returned again. Returns None
    when nobody is available. ``skill`` narrows the set; ``inbound_first`` (outbound callbacks)
    skips coordinators who serve a practice where an inbound caller is waiting.
    """
    held = session.scalars(
        select(Presence).where(
            Presence.call_sid == call_sid, Presence.state == PresenceState.RESERVED
        )
    ).first()
    if held is not None:
        return session.get(User, held.user_id)
    return reserve_free(
        session,
        practice_id,
        call_sid,
        now,
        exclude_user_ids,
        skill=skill,
        inbound_first=inbound_first,
    )


def reserve_free(
    session: Session,
    practice_id: int,
    call_sid: str,
    now: datetime,
    exclude_user_ids: Iterable[int],
    *,
    skill: str | None,
    inbound_first: bool = False,
) -> User | None:
    """``reserve_coordinator`` for a caller known to hold no reservation yet (no lookup)."""
    excluded = list(exclude_user_ids)
    for _ in range(5):  # another transaction may win the race for a candidate: pick again
        query = (
            select(Presence.user_id)
            .join(Membership, Membership.user_id == Presence.user_id)
            .where(
                Membership.practice_id == practice_id,
                Membership.role == Role.COORDINATOR,
                Presence.state == PresenceState.AVAILABLE,
                skill_matches(skill),
            )
            .order_by(Presence.idle_since.asc().nulls_first(), Presence.user_id)
            .limit(1)
        )
        if excluded:
            query = query.where(Presence.user_id.not_in(excluded))
        if inbound_first:
            query = query.where(~Presence.user_id.in_(_users_with_waiting_callers()))
        if is_postgres(session):
            query = query.with_for_update(of=Presence, skip_locked=True)
        user_id = session.scalars(query).first()
        if user_id is None:
            return None
        # An UPDATE's result is a CursorResult at runtime; Session.execute is typed as Result.
        reserved = cast(
            CursorResult[Any],
            session.execute(
                update(Presence)
                .where(Presence.user_id == user_id, Presence.state == PresenceState.AVAILABLE)
                .values(state=PresenceState.RESERVED, call_sid=call_sid, changed_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        won = reserved.rowcount
        if won == 1:
            presence = session.get_one(Presence, user_id, populate_existing=True)
            transition(
                session, presence, PresenceState.RESERVED, now, "reserved", call_sid=call_sid
            )
            return session.get(User, user_id)
        excluded.append(user_id)
    return None


def _users_with_waiting_callers() -> ColumnElement[bool]:
    member = Membership.__table__.alias("waiting_member")
    return (
        select(member.c.user_id)
        .join(QueueEntry, QueueEntry.practice_id == member.c.practice_id)
        .where(QueueEntry.status == QueueStatus.WAITING)
        .scalar_subquery()
    )
