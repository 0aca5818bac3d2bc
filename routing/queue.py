"""The inbound line of each practice: arrival order, routing a call, atomic dequeue.

Concurrency rules (PostgreSQL):
- Every decision that reads or changes a practice's line holds that practice's routing lock
  (``assignment.lock_practices``) until commit, so "is anybody ahead of me, is anybody free"
  and the resulting reservation or place in line are one atomic step, and queue entries
  (created under the lock) number the callers in arrival order.
- Coordinators are reserved by ``routing.assignment`` (never the same person twice); entries
  are dequeued with ``FOR UPDATE SKIP LOCKED``.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from contact_center.models import Membership, Practice, User
from ivr.models import Call
from ivr.timeline import add_event
from routing import outbox, outreach
from routing.assignment import (
    is_staffed,
    lock_practices,
    reserve_coordinator,
    reserve_free,
    skill_for,
    skill_matches,
)
from routing.dialer_models import AttemptState
from routing.models import (
    CallbackStatus,
    CallbackTask,
    Presence,
    PresenceState,
    QueueEntry,
    QueueStatus,
)
from routing.presence import (
    coordinator_practice_ids,
    is_postgres,
    locked_presence,
    transition,
)

logger = logging.getLogger(__name__)

_IN_LINE = (QueueStatus.WAITING, QueueStatus.CALLBACK)


@dataclass(frozen=True)
class Routing:
    """Where a call goes: to ``user`` (reserved), in line at ``position``, or nowhere
    (``staffed`` False: no coordinator of the practice is signed in for this call)."""

    entry: QueueEntry
    user: User | None = None
    position: int | None = None
    staffed: bool = True


def queue_name(practice_id: int) -> str:
    """The practice's queue at Twilio (<Enqueue>)."""
    return f"practice-{practice_id}"


def wait_url(entry_id: int) -> str:
    return f"/twilio/queue/wait?entry={entry_id}"


def action_url(entry_id: int) -> str:
    return f"/twilio/queue/result?entry={entry_id}"


def connect_url(entry_id: int) -> str:
    """Where a waiter is redirected (REST) once a coordinator is reserved for them."""
    return f"/twilio/queue/connect?entry={entry_id}"


def _ahead(session: Session, entry: QueueEntry) -> int:
    """Callers in line before ``entry`` in its practice (its arrival order is its id)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(QueueEntry)
            .where(
                QueueEntry.practice_id == entry.practice_id,
                QueueEntry.status.in_(_IN_LINE),
                QueueEntry.id < entry.id,
            )
        )
        or 0
    )


def position_of(session: Session, entry: QueueEntry) -> int:
    return _ahead(session, entry) + 1


def _callers_ahead_compete(session: Session, entry: QueueEntry) -> bool:
    """A live caller before ``entry`` could take the coordinator ``entry`` would get."""
    competing = session.scalars(
        select(QueueEntry.id)
        .where(
            QueueEntry.practice_id == entry.practice_id,
            QueueEntry.status == QueueStatus.WAITING,
            QueueEntry.id < entry.id,
            or_(
                QueueEntry.skill.is_(None),
                literal(entry.skill is None),
                QueueEntry.skill == (entry.skill or ""),
            ),
        )
        .limit(1)
    ).first()
    return competing is not None


def route_call(
    session: Session,
    call: Call,
    now: datetime,
    *,
    choice: str | None = None,
    exclude_user_ids: Iterable[int] = (),
) -> Routing:
    """Ring somebody or take a place in line, atomically and in arrival order.

    Called for a new call after the menu, again after a ring without answer (the caller keeps
    their place), and when a redirected waiter asks to be connected (the reservation made for
    them is returned). Writes the timeline (``assigned``) when a coordinator is reserved.
    """
    lock_practices(session, [call.practice_id])
    entry = session.scalars(select(QueueEntry).where(QueueEntry.call_id == call.id)).one_or_none()
    if entry is None:
        entry = QueueEntry(
            practice_id=call.practice_id,
            call_id=call.id,
            call_sid=call.call_sid,
            skill=skill_for(session, call.practice_id, choice),
            status=QueueStatus.WAITING,
            enqueued_at=now,
            offers=0,
            overflow_offers=0,
        )
        session.add(entry)
        session.flush()
    held = session.scalars(
        select(Presence).where(
            Presence.call_sid == call.call_sid, Presence.state == PresenceState.RESERVED
        )
    ).first()
    if held is not None:
        return Routing(entry, user=session.get_one(User, held.user_id), position=0)
    if not _callers_ahead_compete(session, entry):
        user = reserve_free(  # no reservation is held (checked above)
            session, call.practice_id, call.call_sid, now, exclude_user_ids, skill=entry.skill
        )
        if user is not None:
            _assign(session, entry, call, user, now, redirect=False)
            return Routing(entry, user=user, position=0)
    _back_in_line(entry)
    if not is_staffed(session, call.practice_id, entry.skill):
        entry.status = QueueStatus.VOICEMAIL
        entry.left_at = now
        entry.wait_seconds = 0
        return Routing(entry, staffed=False)
    return Routing(entry, position=position_of(session, entry))


def _back_in_line(entry: QueueEntry) -> None:
    entry.status = QueueStatus.WAITING
    entry.assigned_user_id = None
    entry.assigned_at = None
    entry.redirected_at = None


def _assign(
    session: Session, entry: QueueEntry, call: Call, user: User, now: datetime, *, redirect: bool
) -> None:
    entry.status = QueueStatus.ASSIGNED
    entry.assigned_user_id = user.id
    entry.assigned_at = now
    entry.offers += 1
    # A caller already in our TwiML flow is rung by the answer to this very webhook; one
    # waiting in Twilio's queue must be redirected through the REST API after commit.
    entry.redirected_at = None if redirect else now
    call.coordinator_id = user.id
    add_event(
        session,
        call,
        "assigned",
        now,
        {
            "user_id": user.id,
            "identity": user.identity,
            "entry_id": entry.id,
            "wait_s": int((now - entry.enqueued_at).total_seconds()),
        },
        dedupe_key=f"assigned:{entry.id}:{entry.offers}",
        fresh=True,  # ``offers`` just grew: this key cannot exist yet
    )
    if redirect:
        outbox.redirect_waiter(session, entry.id)


def _next_in_line(session: Session, user_id: int, practice_ids: list[int]) -> QueueEntry | None:
    query = (
        select(QueueEntry)
        .join(
            Membership,
            and_(Membership.practice_id == QueueEntry.practice_id, Membership.user_id == user_id),
        )
        .where(
            QueueEntry.practice_id.in_(practice_ids),
            QueueEntry.status.in_(_IN_LINE),
            skill_matches(QueueEntry.skill),
        )
        .order_by(QueueEntry.id)
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(of=QueueEntry, skip_locked=True)
    return session.scalars(query).first()


def offer_next(session: Session, user_id: int, now: datetime) -> QueueEntry | None:
    """A coordinator just became available: reserve them for the longest waiter they can take.

    Waiting inbound callers come before any callback. A queued callback that reaches the head
    of the line is opened for the dialer (its place is kept until then). Enqueues (after
    commit) the REST redirect of the waiter to this coordinator. Returns the entry or None.
    """
    practice_ids = coordinator_practice_ids(session, user_id)
    if not practice_ids:
        return None
    lock_practices(session, practice_ids)
    presence = locked_presence(session, user_id, now)
    while presence.state is PresenceState.AVAILABLE:
        entry = _next_in_line(session, user_id, practice_ids)
        if entry is None:
            return None
        if entry.status is QueueStatus.CALLBACK:
            release_callback(session, entry, now)
            continue
        call = session.get_one(Call, entry.call_id)
        user = session.get_one(User, user_id)
        transition(
            session, presence, PresenceState.RESERVED, now, "reserved", call_sid=entry.call_sid
        )
        _assign(session, entry, call, user, now, redirect=True)
        logger.info("offered waiter call_sid=%s to user=%s", entry.call_sid, user_id)
        return entry
    return None


def dispatch_practice(session: Session, practice_id: int, now: datetime) -> list[QueueEntry]:
    """Pair the practice's waiters with its available coordinators, in order (the reconciler's
    safety net: normally ``offer_next`` does this the moment somebody becomes available)."""
    lock_practices(session, [practice_id])
    assigned: list[QueueEntry] = []
    for entry in list(
        session.scalars(
            select(QueueEntry)
            .where(QueueEntry.practice_id == practice_id, QueueEntry.status.in_(_IN_LINE))
            .order_by(QueueEntry.id)
        )
    ):
        if entry.status is QueueStatus.CALLBACK:
            if not assigned and _ahead_waiting(session, entry) == 0:
                release_callback(session, entry, now)
            continue
        call = session.get_one(Call, entry.call_id)
        user = reserve_coordinator(session, practice_id, entry.call_sid, now, skill=entry.skill)
        if user is None:
            if entry.skill is None:
                break  # nobody free at all
            continue
        _assign(session, entry, call, user, now, redirect=True)
        assigned.append(entry)
    return assigned


def _ahead_waiting(session: Session, entry: QueueEntry) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(QueueEntry)
            .where(
                QueueEntry.practice_id == entry.practice_id,
                QueueEntry.status == QueueStatus.WAITING,
                QueueEntry.id < entry.id,
            )
        )
        or 0
    )


def release_callback(session: Session, entry: QueueEntry, now: datetime) -> None:
    """A queued callback reached the head of the line: the task is due now, for the dialer."""
    entry.status = QueueStatus.CALLBACK_DUE
    if entry.callback_task_id is not None:
        task = session.get(CallbackTask, entry.callback_task_id)
        if task is not None and task.status is CallbackStatus.HELD:
            sla = task.sla_deadline - task.due_at
            task.status = CallbackStatus.OPEN
            task.due_at = now
            task.sla_deadline = now + sla
            practice = session.get_one(Practice, task.practice_id)
            attempt = outreach.ensure_attempt(session, task, practice, now)
            if attempt is not None and attempt.state is AttemptState.SCHEDULED:
                outbox.dial_attempt(session, practice.id, attempt.id, attempt.due_at)
    call = session.get_one(Call, entry.call_id)
    add_event(
        session,
        call,
        "callback_due",
        now,
        {"task_id": entry.callback_task_id},
        dedupe_key=f"callback_due:{entry.id}",
    )


def waiting_caller_for(session: Session, user_id: int) -> QueueEntry | None:
    """The longest-waiting inbound caller this coordinator could take, if any.

    The outbound dialer asks this before placing a callback through a coordinator: inbound
    callers take priority over callback tasks.
    """
    practice_ids = coordinator_practice_ids(session, user_id)
    if not practice_ids:
        return None
    return session.scalars(
        select(QueueEntry)
        .join(
            Membership,
            and_(Membership.practice_id == QueueEntry.practice_id, Membership.user_id == user_id),
        )
        .where(
            QueueEntry.practice_id.in_(practice_ids),
            QueueEntry.status == QueueStatus.WAITING,
            skill_matches(QueueEntry.skill),
        )
        .order_by(QueueEntry.id)
        .limit(1)
    ).first()


def entry_for_call(session: Session, call_sid: str) -> QueueEntry | None:
    return session.scalars(select(QueueEntry).where(QueueEntry.call_sid == call_sid)).one_or_none()


def drop_assignment(session: Session, call_sid: str, user_id: int, now: datetime) -> bool:
    """A reservation for a waiter was dropped (expired, browser gone, caller gone before the
    ring): the caller goes back to their place in line. True if an entry was put back."""
    entry = entry_for_call(session, call_sid)
    if entry is None or entry.status is not QueueStatus.ASSIGNED:
        return False
    if entry.assigned_user_id != user_id or entry.answered_at is not None:
        return False
    call = session.get_one(Call, entry.call_id)
    if call.coordinator_id == user_id:
        call.coordinator_id = None
    if call.status.is_final:
        entry.status = QueueStatus.ABANDONED
        entry.left_at = entry.left_at or now
        return False
    _back_in_line(entry)
    add_event(
        session,
        call,
        "requeued",
        now,
        {"user_id": user_id, "entry_id": entry.id},
        dedupe_key=f"requeued:{entry.id}:{entry.offers}",
    )
    return True


def mark_answered(session: Session, call_sid: str, user_id: int, now: datetime) -> None:
    """The coordinator picked up: the caller's wait is over (timeline: answered, by whom)."""
    entry = entry_for_call(session, call_sid)
    if entry is None or entry.answered_at is not None:
        return
    entry.status = QueueStatus.ANSWERED
    entry.answered_at = now
    entry.wait_seconds = entry.wait_seconds or int((now - entry.enqueued_at).total_seconds())
    call = session.get_one(Call, entry.call_id)
    add_event(
        session,
        call,
        "answered",
        now,
        {"user_id": user_id, "wait_s": entry.wait_seconds},
        dedupe_key="answered",
    )
