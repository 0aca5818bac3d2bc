"""The outbound callback dialer (speed-to-lead): open callback tasks, claim a due attempt and
reserve a coordinator to ring; ``routing.dialer_legs`` takes the call from there (the patient
is bridged with the practice number as caller ID).

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC). The REST
request itself is made by the job (``routing.dialer_jobs``) between two transactions, so the
database always says where an attempt stands; see ``routing.dialer_models`` for the states.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from contact_center.messaging import quiet_hours
from contact_center.messaging import services as messaging
from contact_center.messaging.pause import REVIEW_RECHECK
from contact_center.models import Practice
from contact_center.voice import Hangup, Say, Script
from ivr.models import Call, CallStatus, Direction
from routing import outreach, sla
from routing import services as routing
from routing.dialer_models import AttemptOutcome, AttemptState, CallbackAttempt
from routing.models import (
    CallbackReason,
    CallbackStatus,
    CallbackTask,
    PresenceState,
    QueueEntry,
)

logger = logging.getLogger(__name__)

# An inbound caller this recent, live and not yet with a coordinator, goes first.
# A caller still in the IVR this long after calling in has hung up (lost status callback).
IVR_WINDOW = timedelta(minutes=3)
PATIENT_RING_TIMEOUT_S = 25
ALREADY_HANDLED = Script.of(Say("This callback has already been handled. Thank you."), Hangup())


@dataclass(frozen=True)
class DialOrder:
    """Everything the job needs for the REST request that rings the coordinator."""

    attempt_id: int
    token: str
    practice_id: int
    to: str
    from_: str
    url: str
    status_callback: str


@dataclass(frozen=True)
class Wait:
    """Not now: ``until`` a moment (quiet hours, not due) or, with None, a free coordinator."""

    until: datetime | None


def reservation_key(token: str) -> str:
    return "DL" + token  # 34 characters, like a CallSid: the presence row's reservation key


def query_of(attempt_id: int, token: str) -> str:
    return urlencode({"attempt": attempt_id, "token": token})


def open_callback(
    session: Session,
    practice: Practice,
    phone: str,
    reason: CallbackReason,
    now: datetime,
    *,
    patient_id: int | None = None,
    note: str | None = None,
) -> tuple[CallbackTask, CallbackAttempt]:
    """The patient's callback task on the practice's SLA (a new one, or the open one this
    reason joins) and its current attempt, never due in quiet hours.

    The attempt is due when the task is (at once in hours, at the next opening after hours),
    pushed out of the patient's quiet hours; a scheduled attempt of a joined task is brought
    forward to that moment.
    """
    task = routing.create_callback_task(
        session,
        practice,
        phone,
        reason,
        now,
        patient_id=patient_id,
        note=note,
        dial_after_commit=False,
    )
    # The caller schedules the dial after its commit (after the patient's instant text).
    attempt = routing.schedule_dial(session, task, practice, now, note_dial=False)
    assert attempt is not None  # the task is open: held tasks come only from the queue
    return task, attempt


def lock_attempt(session: Session, attempt_id: int, *, skip_locked: bool) -> CallbackAttempt | None:
    query = select(CallbackAttempt).where(CallbackAttempt.id == attempt_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    return session.scalars(query).one_or_none()


def stop_reason(session: Session, task: CallbackTask) -> str | None:
    """Why the cadence must stop: the patient opted out, or called in and reached somebody."""
    if messaging.is_opted_out(session, task.practice_id, task.phone):
        return "patient opted out"
    called_in = session.scalar(
        select(
            exists().where(
                Call.practice_id == task.practice_id,
                Call.direction == Direction.INBOUND,
                Call.from_number == task.phone,
                Call.started_at >= task.created_at,
                Call.answered_by_id.is_not(None),
            )
        )
    )
    return "patient called in" if called_in else None


def inbound_waiting(session: Session, practice_id: int, now: datetime) -> bool:
    """True while an inbound caller of the practice waits in its queue, or is still in the
    IVR (greeting, consent, menu) and about to ask for a coordinator: callbacks wait for both.
    """
    if routing.inbound_waiting(session, practice_id):
        return True
    asked_for_coordinator = exists().where(QueueEntry.call_sid == Call.call_sid)
    return bool(
        session.scalar(
            select(
                exists().where(
                    Call.practice_id == practice_id,
                    Call.direction == Direction.INBOUND,
                    Call.ended_at.is_(None),
                    Call.answered_by_id.is_(None),
                    Call.coordinator_id.is_(None),
                    Call.after_hours.is_(False),
                    Call.status.in_(
                        (CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS)
                    ),
                    Call.started_at >= now - IVR_WINDOW,
                    ~asked_for_coordinator,
                )
            )
        )
    )


def cancel(
    session: Session, task: CallbackTask, attempt: CallbackAttempt | None, why: str, now: datetime
) -> None:
    if attempt is not None and attempt.state in (AttemptState.SCHEDULED, AttemptState.CLAIMED):
        attempt.state = AttemptState.CANCELED
        attempt.outcome = AttemptOutcome.CANCELED
        attempt.note = why
        attempt.ended_at = now
    if task.status in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        task.status = CallbackStatus.DONE if why == "patient called in" else CallbackStatus.CANCELED
        task.closed_at = now
        task.note = f"{task.note or ''} ({why})".strip()
    logger.info("callback task %s stopped: %s", task.id, why)


def claim(session: Session, attempt_id: int, now: datetime) -> DialOrder | Wait | None:
    """Reserve a coordinator for a due attempt; None when there is nothing to do (done,
    canceled, or another worker holds it). Returns ``Wait`` when it is not the moment."""
    attempt = lock_attempt(session, attempt_id, skip_locked=True)
    if attempt is None or attempt.state is not AttemptState.SCHEDULED:
        return None
    if attempt.due_at > now:
        return Wait(attempt.due_at)
    task = session.get_one(CallbackTask, attempt.task_id)
    if task.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        cancel(session, task, attempt, "task closed", now)
        return None
    why = stop_reason(session, task)
    if why is not None:
        cancel(session, task, attempt, why, now)
        return None
    if messaging.contact_paused(session, task.practice_id, task.phone):
        attempt.due_at = now + REVIEW_RECHECK  # a possible opt-out: a person decides first
        return Wait(attempt.due_at)
    practice = session.get_one(Practice, task.practice_id)
    where = practice.phone_number
    if quiet_hours.is_quiet(task.phone, practice.timezone, now, practice_number=where):
        attempt.due_at = quiet_hours.next_allowed(
            task.phone, practice.timezone, now, practice_number=where
        )
        return Wait(attempt.due_at)
    cap = outreach.cap_of(sla.dialer_settings(session, practice.id))
    until = outreach.cap_reached_until(session, practice.id, task.phone, cap, now)
    if until is not None:
        attempt.due_at = quiet_hours.next_allowed(
            task.phone, practice.timezone, until, practice_number=practice.phone_number
        )
        logger.info("attempt %s waits for the daily cap until %s", attempt.id, attempt.due_at)
        return Wait(attempt.due_at)
    if outreach.busy_elsewhere(session, practice.id, task.phone, attempt.id):
        return Wait(None)  # never two attempts at one patient at the same moment
    if inbound_waiting(session, practice.id, now):
        return Wait(None)  # inbound callers take priority over callbacks
    token = secrets.token_hex(16)
    user = routing.reserve_coordinator(
        session, practice.id, reservation_key(token), now, (), inbound_first=True
    )
    if user is None:
        return Wait(None)
    attempt.state = AttemptState.CLAIMED
    attempt.token = token
    attempt.coordinator_id = user.id
    attempt.claimed_at = now
    attempt.tries += 1
    task.status = CallbackStatus.IN_PROGRESS
    query = query_of(attempt.id, token)
    return DialOrder(
        attempt_id=attempt.id,
        token=token,
        practice_id=practice.id,
        to=f"client:{user.identity}",
        from_=practice.phone_number,
        url=f"/twilio/dialer/connect?{query}",
        status_callback=f"/twilio/dialer/status?{query}",
    )


def mark_dialed(
    session: Session, attempt_id: int, token: str, call_sid: str, now: datetime
) -> None:
    """The coordinator's leg exists at Twilio (a fast webhook may have moved the attempt on)."""
    attempt = lock_attempt(session, attempt_id, skip_locked=False)
    if attempt is None or attempt.token != token:
        return
    attempt.coordinator_call_sid = attempt.coordinator_call_sid or call_sid
    attempt.dialed_at = attempt.dialed_at or now
    if attempt.state is AttemptState.CLAIMED:
        attempt.state = AttemptState.RINGING


def unclaim(
    session: Session,
    attempt_id: int,
    token: str,
    now: datetime,
    presence: PresenceState = PresenceState.AVAILABLE,
) -> bool:
    """Back to scheduled (the REST request failed, the job died, nobody answered): the
    coordinator is released and the same attempt number is tried again. Patient not dialed."""
    attempt = lock_attempt(session, attempt_id, skip_locked=False)
    if (
        attempt is None
        or attempt.token != token
        or attempt.state
        not in (
            AttemptState.CLAIMED,
            AttemptState.RINGING,
        )
    ):
        return False
    if attempt.coordinator_id is not None:
        routing.release_coordinator(
            session, attempt.coordinator_id, reservation_key(token), presence, now
        )
    attempt.state = AttemptState.SCHEDULED
    attempt.token = None
    attempt.coordinator_id = None
    attempt.coordinator_call_sid = None
    attempt.due_at = now
    return True


def next_due_attempt(
    session: Session, practice_id: int, now: datetime, skip: tuple[int, ...] = ()
) -> int | None:
    query = (
        select(CallbackAttempt.id)
        .where(
            CallbackAttempt.practice_id == practice_id,
            CallbackAttempt.state == AttemptState.SCHEDULED,
            CallbackAttempt.due_at <= now,
        )
        .order_by(CallbackAttempt.due_at, CallbackAttempt.id)
        .limit(1)
    )
    if skip:
        query = query.where(CallbackAttempt.id.not_in(skip))
    return session.scalars(query).first()


def stop_for_opt_out(session: Session, practice_id: int, phone: str, now: datetime) -> None:
    """A STOP ends every open callback to the number: no attempt after an opt-out."""
    tasks = session.scalars(
        select(CallbackTask).where(
            CallbackTask.practice_id == practice_id,
            CallbackTask.phone == phone,
            CallbackTask.status.in_((CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS)),
        )
    ).all()
    for task in tasks:
        session.execute(
            update(CallbackAttempt)
            .where(
                CallbackAttempt.task_id == task.id, CallbackAttempt.state == AttemptState.SCHEDULED
            )
            .values(
                state=AttemptState.CANCELED,
                outcome=AttemptOutcome.CANCELED,
                ended_at=now,
                note="patient opted out",
            )
            .execution_options(synchronize_session=False)
        )
        cancel(session, task, None, "patient opted out", now)
