"""Click to dial: a coordinator calls a callback task's patient from the console softphone.

The browser's Voice SDK places the call through the practice's TwiML App, whose Voice URL is
``/twilio/client/outgoing``: Twilio asks it what to do with the coordinator's leg. The call
becomes the task's current attempt, exactly as if the dialer had rung this coordinator and
they had answered (``bridging``), so the dialer never calls the same patient meanwhile, the
outcome is recorded by the dialer's webhooks, and a no-answer schedules the next attempt by
the practice's cadence. Only a callback task of the coordinator's own practice can be dialed:
a softphone token is not a way to call any number.

Preconditions for all: the caller owns the transaction and passes ``now`` (UTC).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.messaging import calling_hours, quiet_hours
from contact_center.messaging import services as messaging
from contact_center.models import Membership, Practice, Role
from contact_center.voice import Hangup, Say, Script
from routing import dialer, dialer_legs, outreach, presence, sla
from routing.dialer_models import AttemptState, CallbackAttempt
from routing.models import CallbackStatus, CallbackTask, PresenceState

logger = logging.getLogger(__name__)

MANUAL = "placed from the console"
# A coordinator on a call, or promised to one, finishes it first. Anyone else clicking "call"
# is at the desk (offline only means no routed calls): after the call they are available.
_BUSY = (PresenceState.RESERVED, PresenceState.ON_CALL)


def _refuse(why: str) -> Script:
    return Script.of(Say(f"The call was not placed: {why}."), Hangup())


def _current_attempt(session: Session, task: CallbackTask, now: datetime) -> CallbackAttempt:
    """The task's open attempt, locked; a new one when the cadence has none open."""
    query = (
        select(CallbackAttempt)
        .where(CallbackAttempt.task_id == task.id)
        .order_by(CallbackAttempt.attempt_no.desc())
        .limit(1)
    )
    if presence.is_postgres(session):
        query = query.with_for_update()
    latest = session.scalars(query).first()
    if latest is not None and latest.state is not AttemptState.DONE:
        return latest
    attempt = CallbackAttempt(
        task_id=task.id,
        practice_id=task.practice_id,
        attempt_no=(latest.attempt_no + 1) if latest else 1,
        state=AttemptState.SCHEDULED,
        due_at=now,
        created_at=now,
    )
    session.add(attempt)
    session.flush()
    return attempt


def start_callback_call(
    session: Session, task_id: int, identity: str, call_sid: str, now: datetime
) -> Script:
    """The coordinator's softphone leg ``call_sid`` asks to call the patient of ``task_id``:
    the patient is dialed with the practice number as caller ID, or the coordinator hears why
    not (not their practice, closed, opted out, quiet hours, already being called)."""
    task = session.get(CallbackTask, task_id)
    user = session.scalars(
        select(Membership).where(
            Membership.practice_id == (task.practice_id if task else -1),
            Membership.role.in_((Role.COORDINATOR, Role.ADMIN)),
            Membership.user.has(identity=identity),
        )
    ).first()
    if task is None or user is None:
        logger.warning("click to dial refused task=%s identity=%s", task_id, identity)
        return _refuse("this callback is not one of your practice's")
    if task.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
        return _refuse("this callback is already closed")
    why = dialer.stop_reason(session, task)
    if why is not None:
        dialer.cancel(session, task, None, why, now)
        return _refuse(f"the {why}")
    if messaging.contact_paused(session, task.practice_id, task.phone):
        return _refuse(
            "the patient's last text may be an opt-out: confirm or clear it in the inbox first"
        )
    practice = session.get_one(Practice, task.practice_id)
    if quiet_hours.is_quiet(
        task.phone, practice.timezone, now, practice_number=practice.phone_number
    ):
        window = calling_hours.window_for(task.phone, practice.phone_number)
        return _refuse(f"it is outside {window.spoken()} where the patient lives")
    attempt = _current_attempt(session, task, now)
    if attempt.state is not AttemptState.SCHEDULED:
        return _refuse("another coordinator is calling this patient right now")
    cap = outreach.cap_of(sla.dialer_settings(session, practice.id))
    if outreach.cap_reached_until(session, practice.id, task.phone, cap, now) is not None:
        return _refuse(f"this patient was already called {cap} times in the last 24 hours")
    mine = presence.locked_presence(session, user.user_id, now)
    if mine.state in _BUSY:
        return _refuse("finish your current call first")
    token = secrets.token_hex(16)
    presence.transition(
        session,
        mine,
        PresenceState.RESERVED,
        now,
        "click_to_dial",
        call_sid=dialer.reservation_key(token),
    )
    attempt.state = AttemptState.BRIDGING
    attempt.token = token
    attempt.coordinator_id = user.user_id
    attempt.coordinator_call_sid = call_sid
    attempt.claimed_at = attempt.dialed_at = attempt.patient_dialed_at = now
    attempt.tries += 1
    attempt.note = MANUAL
    task.status = CallbackStatus.IN_PROGRESS
    logger.info("click to dial task=%s attempt=%s call_sid=%s", task.id, attempt.id, call_sid)
    return Script.of(dialer_legs.patient_dial(attempt, task, practice))


def client_leg_status(
    session: Session, call_sid: str, status: str, duration_s: int | None, now: datetime
) -> int | None:
    """A status callback of a softphone leg (the TwiML App's Status Callback): for a
    click-to-dial call, the same as the dialer's coordinator leg. Returns the practice id
    when a coordinator was freed."""
    attempt = session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.coordinator_call_sid == call_sid)
    ).first()
    if attempt is None or attempt.token is None:
        return None
    return dialer_legs.leg_status(session, attempt.id, attempt.token, status, duration_s, now)
