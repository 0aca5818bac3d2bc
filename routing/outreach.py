"""One patient, one outreach: a practice has at most one open callback task per patient number.

A new reason to call the patient back (a web lead, a missed call, a text, a voicemail, a
queued callback) joins the open task, recorded as a ``CallbackTaskReason``, instead of starting
a second cadence; a partial unique index on open tasks per (practice, number) is the final
guard when two reasons arrive at once. Attempts across every reason are capped per patient per
rolling 24 hours (``DialerSettings.daily_cap``, default 3), and one patient is never in two
attempts at the same moment.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contact_center.messaging import quiet_hours
from contact_center.models import Practice
from routing import sla
from routing.dialer_models import DAILY_CAP, AttemptState, CallbackAttempt, DialerSettings
from routing.models import CallbackReason, CallbackStatus, CallbackTask, CallbackTaskReason

logger = logging.getLogger(__name__)

OPEN_STATES = (CallbackStatus.HELD, CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS)
LIVE_ATTEMPT = (AttemptState.CLAIMED, AttemptState.RINGING, AttemptState.BRIDGING)
CAP_WINDOW = timedelta(hours=24)


def open_task_for(session: Session, practice_id: int, phone: str) -> CallbackTask | None:
    """The patient's open task, locked (a concurrent close is waited for, then seen)."""
    query = select(CallbackTask).where(
        CallbackTask.practice_id == practice_id,
        CallbackTask.phone == phone,
        CallbackTask.status.in_(OPEN_STATES),
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def task_of_source_call(session: Session, source_call_id: int) -> CallbackTask | None:
    """The task a call already opened or joined (Twilio replays webhooks)."""
    task = session.scalars(
        select(CallbackTask).where(CallbackTask.source_call_id == source_call_id)
    ).one_or_none()
    if task is not None:
        return task
    return session.scalars(
        select(CallbackTask)
        .join(CallbackTaskReason, CallbackTaskReason.task_id == CallbackTask.id)
        .where(CallbackTaskReason.source_call_id == source_call_id)
    ).one_or_none()


def open_or_join(
    session: Session,
    practice: Practice,
    phone: str,
    reason: CallbackReason,
    now: datetime,
    *,
    patient_id: int | None,
    source_call_id: int | None,
    note: str | None,
    status: CallbackStatus,
    sla_minutes: int,
) -> CallbackTask:
    """The patient's open task with this reason joined, or a new task when there is none.

    Two reasons arriving at once for one number: one insert wins the unique index, the other
    joins the winner's task (its insert is undone inside a savepoint).
    """
    if source_call_id is not None:
        existing = task_of_source_call(session, source_call_id)
        if existing is not None:
            return existing
    for _ in range(3):
        task = open_task_for(session, practice.id, phone)
        if task is not None:
            _join(session, practice, task, reason, now, source_call_id, note, status, sla_minutes)
            return task
        due_at, deadline = sla.deadline_for(practice, sla_minutes, now)
        task = CallbackTask(
            practice_id=practice.id,
            patient_id=patient_id,
            phone=phone,
            reason=reason,
            source_call_id=source_call_id,
            status=status,
            due_at=due_at,
            sla_deadline=deadline,
            note=note,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(task)
                session.flush()
        except IntegrityError:
            logger.info("callback task for %s opened concurrently: joining it", practice.id)
            continue
        _record_reason(session, task, reason, source_call_id, note, now)
        logger.info(
            "callback task %s opened practice=%s reason=%s due=%s",
            task.id,
            practice.id,
            reason.value,
            due_at.isoformat(),
        )
        return task
    raise RuntimeError(f"could not open or join a callback task for practice {practice.id}")


def _record_reason(
    session: Session,
    task: CallbackTask,
    reason: CallbackReason,
    source_call_id: int | None,
    note: str | None,
    now: datetime,
) -> None:
    session.add(
        CallbackTaskReason(
            task_id=task.id, reason=reason, source_call_id=source_call_id, note=note, at=now
        )
    )
    session.flush()


def _join(
    session: Session,
    practice: Practice,
    task: CallbackTask,
    reason: CallbackReason,
    now: datetime,
    source_call_id: int | None,
    note: str | None,
    status: CallbackStatus,
    sla_minutes: int,
) -> None:
    """A new reason joins the open task. A task held in the queue becomes open when a reason
    that wants a call now joins it (the patient is called back sooner, not twice)."""
    _record_reason(session, task, reason, source_call_id, note, now)
    if task.status is CallbackStatus.HELD and status is not CallbackStatus.HELD:
        due_at, deadline = sla.deadline_for(practice, sla_minutes, now)
        task.status, task.due_at, task.sla_deadline = CallbackStatus.OPEN, due_at, deadline
        task.sla_checked_at = None
    logger.info("callback task %s joined by reason=%s", task.id, reason.value)


def reasons_of(session: Session, task_id: int) -> list[CallbackReason]:
    return list(
        session.scalars(
            select(CallbackTaskReason.reason)
            .where(CallbackTaskReason.task_id == task_id)
            .order_by(CallbackTaskReason.id)
        )
    )


def ensure_attempt(
    session: Session, task: CallbackTask, practice: Practice, now: datetime
) -> CallbackAttempt | None:
    """The task's current attempt: a scheduled one is brought forward to the task's due time
    (a fresh inquiry is not left waiting for tomorrow's step), a missing one is scheduled from
    the next allowed minute. None for a task held in the queue or closed."""
    if task.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        return None
    wanted = quiet_hours.next_allowed(
        task.phone, practice.timezone, max(task.due_at, now), practice_number=practice.phone_number
    )
    current = session.scalars(
        select(CallbackAttempt)
        .where(CallbackAttempt.task_id == task.id)
        .order_by(CallbackAttempt.attempt_no.desc())
        .limit(1)
    ).first()
    if current is not None and current.state is AttemptState.SCHEDULED:
        if current.due_at > wanted:
            current.due_at = wanted
        return current
    if current is not None and current.state in LIVE_ATTEMPT:
        return current
    attempt = CallbackAttempt(
        task_id=task.id,
        practice_id=task.practice_id,
        attempt_no=(current.attempt_no + 1) if current is not None else 1,
        state=AttemptState.SCHEDULED,
        due_at=wanted,
        created_at=now,
    )
    session.add(attempt)
    session.flush()
    return attempt


def cap_of(settings: DialerSettings) -> int:
    """The practice's cap, never above the default (configurable downward only)."""
    return max(1, min(settings.daily_cap or DAILY_CAP, DAILY_CAP))


def cap_reached_until(
    session: Session, practice_id: int, phone: str, cap: int, now: datetime
) -> datetime | None:
    """When the patient may be dialed again, if ``cap`` dials in the last 24 hours (across
    every task of the practice) already reached them; None when they may be dialed now."""
    dials = list(
        session.scalars(
            select(CallbackAttempt.patient_dialed_at)
            .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
            .where(
                CallbackTask.practice_id == practice_id,
                CallbackTask.phone == phone,
                CallbackAttempt.patient_dialed_at > now - CAP_WINDOW,
            )
            .order_by(CallbackAttempt.patient_dialed_at.desc())
        )
    )
    if len(dials) < cap:
        return None
    oldest_counted = dials[cap - 1]
    assert oldest_counted is not None  # the query keeps dialed attempts only
    return oldest_counted + CAP_WINDOW


def busy_elsewhere(session: Session, practice_id: int, phone: str, attempt_id: int) -> bool:
    """Another attempt to this patient is under way right now (never two at one moment)."""
    return bool(
        session.scalar(
            select(func.count())
            .select_from(CallbackAttempt)
            .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
            .where(
                CallbackTask.practice_id == practice_id,
                CallbackTask.phone == phone,
                CallbackAttempt.id != attempt_id,
                CallbackAttempt.state.in_(LIVE_ATTEMPT),
            )
        )
    )
