"""The outbound callback dialer (speed-to-lead): claim an attempt, ring a coordinator's
softphone, then bridge the patient with the practice number as caller ID.

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
from contact_center.models import Practice
from contact_center.voice import Dial, Gather, Hangup, Say, Script
from ivr.models import Call, CallStatus, Direction
from routing import services as routing
from routing import sla
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


def _query(attempt_id: int, token: str) -> str:
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
    """A callback task on the practice's SLA and its first attempt, never in quiet hours.

    The task is ``routing.create_callback_task``'s with the practice's ``sla_minutes``; the
    attempt is due when the task is (at once in hours, at the next opening after hours),
    pushed out of the patient's quiet hours.
    """
    settings = sla.dialer_settings(session, practice.id)
    task = routing.create_callback_task(
        session,
        practice,
        phone,
        reason,
        now,
        patient_id=patient_id,
        note=note,
        sla_minutes=settings.sla_minutes,
    )
    attempt = CallbackAttempt(
        task_id=task.id,
        practice_id=practice.id,
        attempt_no=1,
        state=AttemptState.SCHEDULED,
        due_at=quiet_hours.next_allowed(phone, practice.timezone, task.due_at),
        created_at=now,
    )
    session.add(attempt)
    session.flush()
    return task, attempt


def _lock(session: Session, attempt_id: int, *, skip_locked: bool) -> CallbackAttempt | None:
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
    attempt = _lock(session, attempt_id, skip_locked=True)
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
    practice = session.get_one(Practice, task.practice_id)
    if quiet_hours.is_quiet(task.phone, practice.timezone, now):
        attempt.due_at = quiet_hours.next_allowed(task.phone, practice.timezone, now)
        return Wait(attempt.due_at)
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
    query = _query(attempt.id, token)
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
    attempt = _lock(session, attempt_id, skip_locked=False)
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
    attempt = _lock(session, attempt_id, skip_locked=False)
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


# --- the coordinator's leg (webhooks) ------------------------------------------------------


def _current(
    session: Session, attempt_id: int, token: str, states: tuple[AttemptState, ...]
) -> CallbackAttempt | None:
    attempt = _lock(session, attempt_id, skip_locked=False)
    if attempt is None or not token or attempt.token != token or attempt.state not in states:
        return None
    return attempt


def connect(session: Session, attempt_id: int, token: str, call_sid: str, now: datetime) -> Script:
    """The coordinator answered: announce the callback, then dial the patient (at most once
    per attempt: the move to ``bridging`` happens once, under the row lock)."""
    attempt = _current(session, attempt_id, token, (AttemptState.CLAIMED, AttemptState.RINGING))
    if attempt is None:
        logger.warning("stale dialer leg attempt=%s call_sid=%s", attempt_id, call_sid)
        return ALREADY_HANDLED
    task = session.get_one(CallbackTask, attempt.task_id)
    why = stop_reason(session, task)
    if why is not None:
        attempt.state = AttemptState.CANCELED
        cancel(session, task, None, why, now)
        attempt.outcome, attempt.ended_at, attempt.note = AttemptOutcome.CANCELED, now, why
        return Script.of(Say(f"This callback was canceled: {why}. Thank you."), Hangup())
    practice = session.get_one(Practice, task.practice_id)
    attempt.state = AttemptState.BRIDGING
    attempt.coordinator_call_sid = attempt.coordinator_call_sid or call_sid
    attempt.dialed_at = attempt.dialed_at or now
    attempt.patient_dialed_at = now
    what = task.note or task.reason.value.replace("_", " ")
    return Script.of(
        Say(
            f"{practice.name}, callback for {what}, attempt {attempt.attempt_no}. "
            "Connecting you to the patient now."
        ),
        patient_dial(attempt, task, practice),
    )


def patient_dial(attempt: CallbackAttempt, task: CallbackTask, practice: Practice) -> Dial:
    """Dial the patient with the practice number as caller ID; the result comes back to the
    attempt (``bridge_result``) under the claim's token."""
    assert attempt.token is not None
    return Dial(
        action=f"/twilio/dialer/bridge-result?{_query(attempt.id, attempt.token)}",
        number=task.phone,
        caller_id=practice.phone_number,
        timeout=PATIENT_RING_TIMEOUT_S,
    )


_DIAL_OUTCOMES = {
    "no-answer": AttemptOutcome.NO_ANSWER,
    "busy": AttemptOutcome.BUSY,
    "failed": AttemptOutcome.FAILED,
    "canceled": AttemptOutcome.FAILED,
}


def bridge_result(
    session: Session, attempt_id: int, token: str, dial_status: str, now: datetime
) -> tuple[Script, CallbackAttempt | None]:
    """The patient leg ended: ask the coordinator what happened, or record why it failed.
    Returns the script and the next attempt (to schedule after the commit), if any."""
    attempt = _current(session, attempt_id, token, (AttemptState.BRIDGING,))
    if attempt is None:
        return Script.of(Hangup()), None
    if dial_status in ("completed", "answered"):
        return Script.of(
            Gather(
                action=f"/twilio/dialer/outcome?{_query(attempt.id, token)}",
                prompt=(
                    Say("Press 1 if you spoke with the patient, or 2 if you reached voicemail."),
                ),
                input="dtmf",
                timeout=8,
            ),
        ), None
    following = finish_attempt(
        session, attempt, _DIAL_OUTCOMES.get(dial_status, AttemptOutcome.FAILED), now
    )
    return Script.of(
        Say("The patient did not answer. We will try again later. Thank you."), Hangup()
    ), following


def record_outcome(
    session: Session, attempt_id: int, token: str, digits: str | None, now: datetime
) -> tuple[Script, CallbackAttempt | None]:
    attempt = _current(session, attempt_id, token, (AttemptState.BRIDGING,))
    if attempt is None:
        return Script.of(Hangup()), None
    outcome = AttemptOutcome.VOICEMAIL if digits == "2" else AttemptOutcome.CONNECTED
    following = finish_attempt(session, attempt, outcome, now)
    return Script.of(Say("Thank you."), Hangup()), following


def finish_attempt(
    session: Session, attempt: CallbackAttempt, outcome: AttemptOutcome, now: datetime
) -> CallbackAttempt | None:
    """Record the outcome; schedule the next attempt by the cadence unless the task is over."""
    attempt.state = AttemptState.DONE
    attempt.outcome = outcome
    attempt.ended_at = now
    task = session.get_one(CallbackTask, attempt.task_id)
    if outcome is AttemptOutcome.CONNECTED:
        task.status = CallbackStatus.DONE
        task.closed_at = now
        return None
    why = stop_reason(session, task)
    if why is not None:
        cancel(session, task, None, why, now)
        return None
    practice = session.get_one(Practice, task.practice_id)
    settings = sla.dialer_settings(session, practice.id)
    if attempt.attempt_no >= settings.max_attempts:
        cancel(session, task, None, f"no answer after {attempt.attempt_no} attempts", now)
        return None
    number = attempt.attempt_no + 1
    following = CallbackAttempt(
        task_id=task.id,
        practice_id=task.practice_id,
        attempt_no=number,
        state=AttemptState.SCHEDULED,
        due_at=sla.next_attempt_due(practice, settings, number, task.phone, now),
        created_at=now,
    )
    session.add(following)
    task.status = CallbackStatus.OPEN
    session.flush()
    return following


def leg_status(
    session: Session,
    attempt_id: int,
    token: str,
    status: str,
    duration_s: int | None,
    now: datetime,
) -> int | None:
    """A status callback of the coordinator's leg. On a final status the coordinator is
    released; a leg nobody answered puts the attempt back for the next coordinator (and the
    unresponsive one away). Returns the practice id when a coordinator was freed."""
    if status not in ("completed", "busy", "no-answer", "failed", "canceled"):
        return None
    attempt = _current(session, attempt_id, token, tuple(AttemptState))
    if attempt is None:
        return None
    key = reservation_key(token)
    if attempt.state in (AttemptState.CLAIMED, AttemptState.RINGING):
        # Rang out or refused: they likely walked away from the desk (as for inbound calls).
        away = status in ("no-answer", "busy")
        unclaim(
            session,
            attempt.id,
            token,
            now,
            presence=PresenceState.AWAY if away else PresenceState.AVAILABLE,
        )
        return attempt.practice_id
    if attempt.state is AttemptState.BRIDGING:
        # The coordinator hung up without answering the outcome question: they talked.
        finish_attempt(session, attempt, AttemptOutcome.CONNECTED, now)
    if attempt.coordinator_id is not None and routing.release_coordinator(
        session, attempt.coordinator_id, key, PresenceState.AVAILABLE, now
    ):
        return attempt.practice_id
    return None


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
