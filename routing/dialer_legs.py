"""The callback dialer's calls once placed: the coordinator's leg answers (``connect``), the
patient is dialed once per attempt, the result and the outcome are recorded, and the next
attempt follows the practice's cadence. Webhook-driven; see ``routing.dialer`` for claiming.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from contact_center.messaging import quiet_hours
from contact_center.messaging import services as messaging
from contact_center.messaging.pause import REVIEW_RECHECK
from contact_center.models import Practice
from contact_center.voice import Dial, Gather, Hangup, Say, Script
from routing import outreach, sla
from routing import services as routing
from routing.dialer import (
    ALREADY_HANDLED,
    PATIENT_RING_TIMEOUT_S,
    cancel,
    lock_attempt,
    query_of,
    reservation_key,
    stop_reason,
    unclaim,
)
from routing.dialer_models import AttemptOutcome, AttemptState, CallbackAttempt
from routing.models import CallbackStatus, CallbackTask, PresenceState

logger = logging.getLogger(__name__)


def _current(
    session: Session, attempt_id: int, token: str, states: tuple[AttemptState, ...]
) -> CallbackAttempt | None:
    attempt = lock_attempt(session, attempt_id, skip_locked=False)
    if attempt is None or not token or attempt.token != token or attempt.state not in states:
        return None
    return attempt


def connect(
    session: Session, attempt_id: int, token: str, call_sid: str, now: datetime
) -> tuple[Script, CallbackAttempt | None]:
    """The coordinator answered: announce the callback, then dial the patient (at most once
    per attempt: the move to ``bridging`` happens once, under the row lock).

    Quiet hours are checked again here, for the patient's leg: the coordinator's leg may
    have been placed at 20:59:58 and answered after the patient's window closed. Then the
    patient is not dialed, the coordinator hears why, and the attempt goes back to
    ``scheduled`` at the next allowed minute (returned, to schedule after the commit).
    """
    attempt = _current(session, attempt_id, token, (AttemptState.CLAIMED, AttemptState.RINGING))
    if attempt is None:
        logger.warning("stale dialer leg attempt=%s call_sid=%s", attempt_id, call_sid)
        return ALREADY_HANDLED, None
    task = session.get_one(CallbackTask, attempt.task_id)
    why = stop_reason(session, task)
    if why is not None:
        attempt.state = AttemptState.CANCELED
        cancel(session, task, None, why, now)
        attempt.outcome, attempt.ended_at, attempt.note = AttemptOutcome.CANCELED, now, why
        return Script.of(Say(f"This callback was canceled: {why}. Thank you."), Hangup()), None
    practice = session.get_one(Practice, task.practice_id)
    if messaging.contact_paused(session, task.practice_id, task.phone):
        _defer(session, attempt, token, now + REVIEW_RECHECK, now, "possible opt-out")
        return Script.of(
            Say(
                "The patient's last text may ask us to stop contacting them. Please review it "
                "in the inbox before we call. Thank you."
            ),
            Hangup(),
        ), attempt
    where = practice.phone_number
    if quiet_hours.is_quiet(task.phone, practice.timezone, now, practice_number=where):
        due = quiet_hours.next_allowed(task.phone, practice.timezone, now, practice_number=where)
        _defer(session, attempt, token, due, now, "quiet hours")
        local = due.astimezone(ZoneInfo(practice.timezone))
        when = f"{local:%A} at {local:%I:%M %p}".replace(" at 0", " at ")
        return Script.of(
            Say(
                "The patient's calling hours have just ended, so we will not dial them now. "
                f"This callback is rescheduled for {when}, your time. Thank you."
            ),
            Hangup(),
        ), attempt
    not_now = _not_now(session, attempt, task, practice, now)
    if not_now is not None:
        _defer(session, attempt, token, not_now, now, "daily cap or another attempt under way")
        return Script.of(
            Say("This patient cannot be called right now. Thank you."), Hangup()
        ), attempt
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
    ), None


def _defer(
    session: Session,
    attempt: CallbackAttempt,
    token: str,
    due: datetime,
    now: datetime,
    why: str,
) -> None:
    """The patient is not dialed on this leg: release the coordinator, try again at ``due``."""
    unclaim(session, attempt.id, token, now)
    attempt.due_at = due
    logger.info("patient leg not dialed (%s) attempt=%s due=%s", why, attempt.id, due.isoformat())


def _not_now(
    session: Session,
    attempt: CallbackAttempt,
    task: CallbackTask,
    practice: Practice,
    now: datetime,
) -> datetime | None:
    """When the patient may be dialed, if not now: the daily cap across every reason is
    reached, or another attempt is dialing them (checked again at the moment of the dial)."""
    cap = outreach.cap_of(sla.dialer_settings(session, practice.id))
    until = outreach.cap_reached_until(session, practice.id, task.phone, cap, now)
    if until is not None:
        return until
    if outreach.busy_elsewhere(session, practice.id, task.phone, attempt.id):
        return now
    return None


def patient_dial(attempt: CallbackAttempt, task: CallbackTask, practice: Practice) -> Dial:
    """Dial the patient with the practice number as caller ID; the result comes back to the
    attempt (``bridge_result``) under the claim's token."""
    assert attempt.token is not None
    return Dial(
        action=f"/twilio/dialer/bridge-result?{query_of(attempt.id, attempt.token)}",
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
                action=f"/twilio/dialer/outcome?{query_of(attempt.id, token)}",
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
