"""Coordinator presence: one row per person, every change logged with its time and reason.

These functions only move states; handing a freed coordinator the next caller is the queue's
job (``routing.queue.offer_next``), composed by ``routing.services``.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import DomainError, InvalidInput, NotFound
from contact_center.models import Membership, Role, User
from routing.models import Presence, PresenceChange, PresenceState

# States a coordinator may set themselves; reserved and on_call come from calls.
SETTABLE = {PresenceState.AVAILABLE, PresenceState.AWAY, PresenceState.OFFLINE}
BUSY = {PresenceState.RESERVED, PresenceState.ON_CALL}


class PresenceConflict(DomainError):
    """The change does not fit the coordinator's current state (e.g. available while on a call)."""


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def user_by_identity(session: Session, identity: str) -> User:
    user = session.scalars(select(User).where(User.identity == identity)).one_or_none()
    if user is None:
        raise NotFound(f"no coordinator with identity {identity!r}")
    return user


def coordinator_practice_ids(session: Session, user_id: int) -> list[int]:
    """The practices whose calls this person takes (coordinator memberships), sorted."""
    return sorted(
        session.scalars(
            select(Membership.practice_id).where(
                Membership.user_id == user_id, Membership.role == Role.COORDINATOR
            )
        )
    )


def presence_of(session: Session, user_id: int, now: datetime) -> Presence:
    presence = session.get(Presence, user_id)
    if presence is None:
        presence = Presence(user_id=user_id, state=PresenceState.OFFLINE, changed_at=now)
        session.add(presence)
        session.flush()
    return presence


def locked_presence(session: Session, user_id: int, now: datetime) -> Presence:
    """The presence row, locked for this transaction (PostgreSQL), created offline if missing.

    Re-read after the lock: another transaction may have changed it meanwhile (pending
    changes of this session are flushed first, so none is lost)."""
    session.flush()
    presence = session.get(
        Presence, user_id, with_for_update=is_postgres(session), populate_existing=True
    )
    if presence is None:
        presence = presence_of(session, user_id, now)
    return presence


def transition(
    session: Session,
    presence: Presence,
    state: PresenceState,
    now: datetime,
    reason: str,
    *,
    call_sid: str | None = None,
    wrap_up_until: datetime | None = None,
) -> None:
    """Move ``presence`` to ``state`` and log it. Becoming available starts the idle clock."""
    if state is PresenceState.AVAILABLE and presence.state is not PresenceState.AVAILABLE:
        presence.idle_since = now
    presence.state = state
    presence.changed_at = now
    presence.call_sid = call_sid if state in BUSY else None
    presence.wrap_up_until = wrap_up_until if state is PresenceState.WRAP_UP else None
    session.add(
        PresenceChange(
            user_id=presence.user_id, state=state, reason=reason, call_sid=call_sid, at=now
        )
    )


def change_presence(
    session: Session, user_id: int, state: PresenceState, now: datetime, reason: str = "manual"
) -> tuple[Presence, str | None]:
    """A coordinator (or the server on their behalf) sets available, away, offline or wrap-up.

    Returns the presence and the call they were reserved for, if this change dropped a
    reservation (the caller must be put back in line). Raises InvalidInput for states only
    calls set, PresenceConflict for "available" while reserved or on a call.
    """
    if state not in SETTABLE and state is not PresenceState.WRAP_UP:
        raise InvalidInput(f"presence {state.value!r} is set by calls, not by hand", "state")
    presence = locked_presence(session, user_id, now)
    if presence.state is state:
        return presence, None
    if state is PresenceState.AVAILABLE and presence.state in BUSY:
        raise PresenceConflict("a coordinator on a call becomes available when the call ends")
    if state is PresenceState.WRAP_UP and presence.state is not PresenceState.ON_CALL:
        raise PresenceConflict("wrap-up follows a call")
    dropped = presence.call_sid if presence.state is PresenceState.RESERVED else None
    transition(session, presence, state, now, reason, call_sid=presence.call_sid)
    return presence, dropped


def start_wrap_up(
    session: Session, presence: Presence, seconds: int, now: datetime, call_sid: str | None
) -> datetime:
    until = now + timedelta(seconds=max(seconds, 0))
    transition(
        session,
        presence,
        PresenceState.WRAP_UP,
        now,
        "call_ended",
        call_sid=call_sid,
        wrap_up_until=until,
    )
    return until


def extend_wrap_up(session: Session, user_id: int, seconds: int, now: datetime) -> Presence:
    """More after-call time. Raises PresenceConflict unless the coordinator is in wrap-up."""
    if not 0 < seconds <= 3600:
        raise InvalidInput("extend wrap-up by 1 to 3600 seconds", "seconds")
    presence = locked_presence(session, user_id, now)
    if presence.state is not PresenceState.WRAP_UP:
        raise PresenceConflict("only wrap-up can be extended")
    presence.wrap_up_until = max(presence.wrap_up_until or now, now) + timedelta(seconds=seconds)
    return presence


def heartbeat(session: Session, user_id: int, now: datetime) -> Presence:
    """The coordinator's browser is alive."""
    presence = presence_of(session, user_id, now)
    presence.heartbeat_at = now
    return presence
