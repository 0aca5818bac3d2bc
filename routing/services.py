"""Who handles what: presence, reservation for a call, the practice queues, callback tasks.

The entry points of the routing feature. Every path that frees a coordinator (presence change,
call end, wrap-up end) offers them the longest waiter they can take before anything else, so
inbound callers come before outbound callbacks. Reservations and waiters that nobody acts on
are put right by ``reconcile`` (run periodically by ``routing.jobs``).

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC). Jobs that
must follow a decision (REST redirects, wrap-up timers) are enqueued after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import Forbidden, NotFound
from contact_center.models import Membership, Practice, Role, User
from contact_center.settings import Settings
from ivr.models import Call
from routing import outbox, outreach, queue, sla
from routing.assignment import reserve_coordinator
from routing.dialer_models import AttemptState, CallbackAttempt
from routing.models import (
    CallbackReason,
    CallbackStatus,
    CallbackTask,
    Presence,
    PresenceState,
    QueueEntry,
    QueueStatus,
)
from routing.presence import (
    SETTABLE,
    PresenceConflict,
    change_presence,
    coordinator_practice_ids,
    extend_wrap_up,
    heartbeat,
    is_postgres,
    locked_presence,
    presence_of,
    start_wrap_up,
    transition,
    user_by_identity,
)
from routing.queue import (
    Routing,
    action_url,
    connect_url,
    dispatch_practice,
    offer_next,
    queue_name,
    route_call,
    wait_url,
    waiting_caller_for,
)

__all__ = [
    "SETTABLE",
    "PresenceConflict",
    "Routing",
    "RoutingOptions",
    "action_url",
    "connect_url",
    "dispatch_practice",
    "queue_name",
    "wait_url",
    "extend_wrap_up",
    "heartbeat",
    "offer_next",
    "presence_of",
    "reserve_coordinator",
    "route_call",
    "user_by_identity",
    "waiting_caller_for",
]

logger = logging.getLogger(__name__)

DEFAULT_WRAP_UP_S = 60


@dataclass(frozen=True)
class RoutingOptions:
    """Plain settings routing needs (built from Settings by entry points)."""

    heartbeat_timeout_s: int = 45
    # A reservation nobody acts on (closed browser, lost Dial action) expires after this long.
    reservation_timeout_s: int = 60
    reconcile_every_s: int = 15
    hold_music_url: str = "https://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"

    @classmethod
    def from_settings(cls, settings: Settings) -> RoutingOptions:
        return cls(
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            reservation_timeout_s=settings.reservation_timeout_s or settings.ring_timeout_s + 40,
            reconcile_every_s=settings.routing_reconcile_every_s,
            hold_music_url=settings.hold_music_url or cls.hold_music_url,
        )


# --- presence -----------------------------------------------------------------------------


def set_presence(
    session: Session, user_id: int, state: PresenceState, now: datetime, reason: str = "manual"
) -> Presence:
    """Change a coordinator's state; becoming available offers them the longest waiter.

    Raises InvalidInput for states only calls set, PresenceConflict for "available" while on a
    call. Going away or offline while reserved puts that caller back in line.
    """
    presence, dropped = change_presence(session, user_id, state, now, reason)
    if dropped is not None:
        _put_back(session, dropped, user_id, now)
    if presence.state is PresenceState.AVAILABLE:
        offer_next(session, user_id, now)
    return presence


def set_presence_as(
    session: Session,
    actor_identity: str,
    identity: str,
    state: PresenceState,
    now: datetime,
    practice_id: int | None = None,
) -> Presence:
    """``actor`` changes ``identity``'s presence (the console). Themselves, or as an admin of a
    practice the coordinator works for. Raises NotFound (unknown coordinator), Forbidden
    (another practice's user, or outside ``practice_id``)."""
    actor = user_by_identity(session, actor_identity)
    target = user_by_identity(session, identity)
    target_practices = set(coordinator_practice_ids(session, target.id))
    if not target_practices:
        raise NotFound(f"{identity!r} is not a coordinator")
    if practice_id is not None and practice_id not in target_practices:
        raise Forbidden(f"{identity!r} does not work for practice {practice_id}")
    if actor.id != target.id:
        admin_of = set(
            session.scalars(
                select(Membership.practice_id).where(
                    Membership.user_id == actor.id, Membership.role == Role.ADMIN
                )
            )
        )
        scope = {practice_id} if practice_id is not None else target_practices
        if not admin_of & scope:
            raise Forbidden("only the coordinator or an admin of their practice may do that")
    return set_presence(session, target.id, state, now)


def mark_on_call(session: Session, user_id: int, call_sid: str, now: datetime) -> None:
    """The coordinator picked up ``call_sid`` (their leg is in progress)."""
    presence = locked_presence(session, user_id, now)
    if presence.state is not PresenceState.ON_CALL or presence.call_sid != call_sid:
        transition(session, presence, PresenceState.ON_CALL, now, "answered", call_sid=call_sid)
    queue.mark_answered(session, call_sid, user_id, now)


def finish_call(session: Session, user_id: int, call_sid: str, now: datetime) -> bool:
    """A coordinator's conversation on ``call_sid`` ended: after-call work (wrap-up), which
    ends by itself after the practice's ``wrap_up_seconds``. False if they had moved on."""
    presence = locked_presence(session, user_id, now)
    if presence.call_sid != call_sid:
        return False
    until = start_wrap_up(session, presence, _wrap_up_seconds(session, call_sid), now, call_sid)
    outbox.end_wrap_up(session, user_id, until)
    return True


def release_coordinator(
    session: Session, user_id: int, call_sid: str, state: PresenceState, now: datetime
) -> bool:
    """Free a coordinator from ``call_sid`` into ``state``; False if they had moved on already.

    Someone who was talking goes to wrap-up rather than straight to available. Becoming
    available offers them the longest waiter; a caller whose reservation is dropped (not yet
    answered) goes back to their place in line.
    """
    presence = locked_presence(session, user_id, now)
    if presence.call_sid != call_sid:
        return False
    if state is PresenceState.AVAILABLE and presence.state is PresenceState.ON_CALL:
        return finish_call(session, user_id, call_sid, now)
    was_reserved = presence.state is PresenceState.RESERVED
    reason = "ring_no_answer" if state is PresenceState.AWAY else "released"
    transition(session, presence, state, now, reason)
    if was_reserved:
        queue.drop_assignment(session, call_sid, user_id, now)
    if state is PresenceState.AVAILABLE:
        offer_next(session, user_id, now)
    return True


def end_wrap_up(session: Session, user_id: int, now: datetime) -> bool:
    """Wrap-up time is over: available again, and offered the longest waiter. Safe to repeat;
    False if the coordinator is not in a wrap-up that has ended (e.g. they extended it)."""
    presence = locked_presence(session, user_id, now)
    if presence.state is not PresenceState.WRAP_UP:
        return False
    if presence.wrap_up_until is not None and presence.wrap_up_until > now:
        return False
    transition(session, presence, PresenceState.AVAILABLE, now, "wrap_up_end")
    offer_next(session, user_id, now)
    return True


def _wrap_up_seconds(session: Session, call_sid: str) -> int:
    seconds = session.scalar(
        select(Practice.wrap_up_seconds)
        .join(Call, Call.practice_id == Practice.id)
        .where(Call.call_sid == call_sid)
    )
    return DEFAULT_WRAP_UP_S if seconds is None else int(seconds)


def _put_back(session: Session, call_sid: str, user_id: int, now: datetime) -> None:
    entry = queue.entry_for_call(session, call_sid)
    if queue.drop_assignment(session, call_sid, user_id, now) and entry is not None:
        dispatch_practice(session, entry.practice_id, now)


# --- the reconciler's sweeps (each safe to repeat) -------------------------------------------


def _due(session: Session, query):  # type: ignore[no-untyped-def]
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def expire_silent_browsers(session: Session, now: datetime, timeout_s: int) -> list[int]:
    """Set offline every coordinator whose browser stopped its heartbeat (a backgrounded tab
    must not look available). Only browsers that ever sent one are judged. Returns user ids."""
    cutoff = now - timedelta(seconds=timeout_s)
    silent = _due(
        session,
        select(Presence).where(
            Presence.heartbeat_at.is_not(None),
            Presence.heartbeat_at < cutoff,
            Presence.state.in_(
                [
                    PresenceState.AVAILABLE,
                    PresenceState.AWAY,
                    PresenceState.WRAP_UP,
                    PresenceState.RESERVED,
                ]
            ),
        ),
    )
    for presence in silent:
        dropped = presence.call_sid if presence.state is PresenceState.RESERVED else None
        transition(session, presence, PresenceState.OFFLINE, now, "heartbeat_timeout")
        if dropped is not None:
            _put_back(session, dropped, presence.user_id, now)
        logger.info("heartbeat timeout: user=%s set offline", presence.user_id)
    return [p.user_id for p in silent]


def expire_reservations(session: Session, now: datetime, timeout_s: int) -> list[int]:
    """Reservations older than ``timeout_s`` (a closed browser, a Dial action that never came)
    end: the coordinator is set away and the caller goes back to their place in line."""
    cutoff = now - timedelta(seconds=timeout_s)
    # Only reservations routing made for inbound calls: the outbound dialer keeps its own
    # reservations through the whole callback and reconciles them itself.
    stale = _due(
        session,
        select(Presence).where(
            Presence.state == PresenceState.RESERVED,
            Presence.changed_at <= cutoff,
            Presence.call_sid.in_(select(QueueEntry.call_sid)),
        ),
    )
    for presence in stale:
        call_sid = presence.call_sid
        transition(session, presence, PresenceState.AWAY, now, "reservation_expired")
        logger.warning("reservation expired user=%s call_sid=%s", presence.user_id, call_sid)
        if call_sid is not None:
            _put_back(session, call_sid, presence.user_id, now)
    return [p.user_id for p in stale]


def end_due_wrap_ups(session: Session, now: datetime) -> list[int]:
    due = _due(
        session,
        select(Presence.user_id).where(
            Presence.state == PresenceState.WRAP_UP, Presence.wrap_up_until <= now
        ),
    )
    return [user_id for user_id in due if end_wrap_up(session, user_id, now)]


def close_abandoned_entries(session: Session, now: datetime) -> int:
    """Waiters whose call has ended (the Enqueue action never arrived) leave the line."""
    entries = _due(
        session,
        select(QueueEntry)
        .join(Call, Call.id == QueueEntry.call_id)
        .where(
            QueueEntry.status.in_([QueueStatus.WAITING, QueueStatus.ASSIGNED]),
            Call.ended_at.is_not(None),
        ),
    )
    for entry in entries:
        entry.status = QueueStatus.ABANDONED
        entry.left_at = now
    return len(entries)


def inbound_waiting(session: Session, practice_id: int) -> bool:
    """An inbound caller of the practice is waiting in its queue (callbacks must wait)."""
    return (
        session.scalars(
            select(QueueEntry.id)
            .where(QueueEntry.practice_id == practice_id, QueueEntry.status == QueueStatus.WAITING)
            .limit(1)
        ).first()
        is not None
    )


def practices_with_waiters(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(QueueEntry.practice_id)
            .where(QueueEntry.status.in_([QueueStatus.WAITING, QueueStatus.CALLBACK]))
            .distinct()
        )
    )


def unsent_redirects(session: Session) -> list[int]:
    """Waiters assigned to a coordinator whose REST redirect was never sent."""
    return list(
        session.scalars(
            select(QueueEntry.id).where(
                QueueEntry.status == QueueStatus.ASSIGNED, QueueEntry.redirected_at.is_(None)
            )
        )
    )


# --- callback tasks ----------------------------------------------------------------------


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
    status: CallbackStatus = CallbackStatus.OPEN,
    sla_minutes: int | None = None,
    dial_after_commit: bool = True,
) -> CallbackTask:
    """Open a callback task with its SLA, or join the patient's open one (one outreach per
    patient and practice); one per source call however often it is asked for.

    Due now with a deadline ``sla_minutes`` (the practice's SLA by default) later in hours;
    after hours, due at the next opening with 15 minutes to reach the patient
    (``sla.deadline_for``). ``status=HELD``: a queued callback that keeps the caller's place;
    the queue opens it when the caller's turn comes. An open task gets its attempt, due at the
    next allowed minute, and the dialer is told after the commit (unless the caller schedules
    the dial itself: ``dial_after_commit=False``, see ``routing.dialer.open_callback``).
    """
    settings = sla.dialer_settings(session, practice.id)
    task = outreach.open_or_join(
        session,
        practice,
        phone,
        reason,
        now,
        patient_id=patient_id,
        source_call_id=source_call_id,
        note=note,
        status=status,
        sla_minutes=sla_minutes if sla_minutes is not None else settings.sla_minutes,
    )
    if dial_after_commit:
        schedule_dial(session, task, practice, now)
    return task


def schedule_dial(
    session: Session,
    task: CallbackTask,
    practice: Practice,
    now: datetime,
    *,
    note_dial: bool = True,
) -> CallbackAttempt | None:
    """The task's current attempt (scheduled from the next allowed minute if there is none),
    and a note to enqueue its dial after the commit."""
    attempt = outreach.ensure_attempt(session, task, practice, now)
    if note_dial and attempt is not None and attempt.state is AttemptState.SCHEDULED:
        outbox.dial_attempt(session, practice.id, attempt.id, attempt.due_at)
    return attempt


def user_of(session: Session, user_id: int) -> User:
    return session.get_one(User, user_id)
