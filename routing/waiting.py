"""A caller on hold in a practice queue: the Enqueue wait URL, keys pressed while waiting,
and the Enqueue action (why the caller left the queue).

Position and an honest estimate are announced on every pass of the wait URL (one pass is one
hold clip). After the practice's maximum wait, or when the caller presses star, they are
offered voicemail or a callback that keeps their place in line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.models import Membership, Patient, Practice, Role
from contact_center.voice import EMPTY, Gather, Hangup, Pause, Play, Record, Say, Script
from ivr.models import Call
from ivr.timeline import add_event
from routing import queue, services
from routing.models import (
    CallbackReason,
    CallbackStatus,
    Presence,
    PresenceState,
    QueueEntry,
    QueueStatus,
)

logger = logging.getLogger(__name__)

# Same endpoints as the IVR's own voicemail (ivr.services): the thanks and the recording.
VOICEMAIL_DONE = "/twilio/voice/voicemail"
VOICEMAIL_RECORDING_CALLBACK = "/twilio/recordings/status?source=voicemail"
DEFAULT_HANDLE_S = 240  # until the practice has answered calls to measure
ESTIMATE_WINDOW = timedelta(days=7)

OFFER = (
    "To leave a voicemail, press 1. "
    "To have us call you back without losing your place in line, press 2. "
    "To keep holding, press 3."
)
TIP = "To leave a message or have us call you back instead, press star at any time."


@dataclass(frozen=True)
class LeaveQueue:
    """TwiML ``<Leave/>``: take the caller out of the queue; Twilio then posts the Enqueue
    action with ``QueueResult=leave``. (Not a ``contact_center.voice`` step: only valid in a
    wait URL.)"""


LEAVE = LeaveQueue()
QueueAnswer = Script | LeaveQueue


def _entry(session: Session, entry_id: int, call_sid: str) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id, with_for_update=True)
    if entry is None or entry.call_sid != call_sid:
        raise NotFound(f"no queue entry {entry_id} for call {call_sid}")
    return entry


def estimate_wait_s(
    session: Session, practice: Practice, position: int, now: datetime
) -> int | None:
    """Expected wait for the caller at ``position``: their share of the staffed coordinators'
    throughput (recent average talk time plus wrap-up). None when nobody is signed in."""
    staffed = int(
        session.scalar(
            select(func.count())
            .select_from(Presence)
            .join(Membership, Membership.user_id == Presence.user_id)
            .where(
                Membership.practice_id == practice.id,
                Membership.role == Role.COORDINATOR,
                Presence.state.in_([s for s in PresenceState if s.staffed]),
            )
        )
        or 0
    )
    if staffed == 0:
        return None
    talk = session.scalar(
        select(func.avg(Call.duration_s)).where(
            Call.practice_id == practice.id,
            Call.answered_by_id.is_not(None),
            Call.duration_s.is_not(None),
            Call.started_at >= now - ESTIMATE_WINDOW,
        )
    )
    handle = float(talk if talk is not None else DEFAULT_HANDLE_S) + practice.wrap_up_seconds
    return math.ceil(position * handle / staffed)


def spoken_position(position: int) -> str:
    return "You are next in line." if position == 1 else f"You are number {position} in line."


def spoken_estimate(seconds: int | None) -> str:
    if seconds is None:
        return "All of our patient coordinators are busy right now."
    if seconds < 60:
        return "We expect to answer your call in less than a minute."
    minutes = math.ceil(seconds / 60)
    return f"We expect to answer your call in about {minutes} minute{'s' if minutes > 1 else ''}."


def _offer(entry: QueueEntry, lead_in: tuple[Say, ...] = ()) -> Script:
    return Script.of(
        Gather(
            action=f"/twilio/queue/key?entry={entry.id}&offer=1",
            prompt=(*lead_in, Say(OFFER)),
            input="dtmf",
            num_digits=1,
            timeout=8,
            action_on_empty_result=True,
        )
    )


def hold(
    session: Session,
    entry_id: int,
    call_sid: str,
    queue_time_s: int,
    now: datetime,
    hold_music_url: str,
) -> Script:
    """One pass of the wait URL: position, estimate, hold music; the overflow offer once the
    caller has waited the practice's maximum (again after each further maximum)."""
    entry = _entry(session, entry_id, call_sid)
    if entry.status is not QueueStatus.WAITING:
        return Script.of(Pause(2))  # being connected: the redirect is on its way
    practice = session.get_one(Practice, entry.practice_id)
    call = session.get_one(Call, entry.call_id)
    if queue_time_s >= practice.max_wait_seconds * (entry.overflow_offers + 1):
        entry.overflow_offers += 1
        add_event(
            session,
            call,
            "overflow_offer",
            now,
            {"wait_s": queue_time_s},
            dedupe_key=f"overflow_offer:{entry.overflow_offers}",
        )
        return _offer(entry, (Say("We're sorry for the wait."),))
    position = queue.position_of(session, entry)
    add_event(
        session,
        call,
        "position",
        now,
        {"position": position, "wait_s": queue_time_s},
        dedupe_key=f"position:{position}",
    )
    estimate = estimate_wait_s(session, practice, position, now)
    return Script.of(
        Gather(
            action=f"/twilio/queue/key?entry={entry.id}",
            prompt=(
                Say(spoken_position(position)),
                Say(spoken_estimate(estimate)),
                Say(TIP),
                Play(hold_music_url),
            ),
            input="dtmf",
            num_digits=1,
            timeout=1,
            action_on_empty_result=False,
        )
    )


def press_key(
    session: Session,
    entry_id: int,
    call_sid: str,
    digits: str | None,
    offered: bool,
    queue_time_s: int,
    now: datetime,
) -> QueueAnswer:
    """A key while holding opens the offer; in the offer, 1 voicemail, 2 callback keeping the
    caller's place, 3 keep holding. No answer to the offer means voicemail."""
    entry = _entry(session, entry_id, call_sid)
    if entry.status is not QueueStatus.WAITING:
        return Script.of(Say("Please hold, we are connecting you now."))
    if not offered:
        return _offer(entry)
    call = session.get_one(Call, entry.call_id)
    choice = (digits or "")[:1]
    if choice == "3":
        return Script.of(Say("Thank you for holding. You keep your place in line."))
    if choice == "2" and call.patient_id is not None:
        practice = session.get_one(Practice, entry.practice_id)
        task = services.create_callback_task(
            session,
            practice,
            session.get_one(Patient, call.patient_id).phone,
            CallbackReason.QUEUE_CALLBACK,
            now,
            patient_id=call.patient_id,
            source_call_id=call.id,
            status=CallbackStatus.HELD,
            note=f"queued callback, in line since {entry.enqueued_at.isoformat()}",
        )
        entry.status = QueueStatus.CALLBACK
        entry.callback_task_id = task.id
        add_event(
            session,
            call,
            "overflow",
            now,
            {
                "choice": "callback",
                "task_id": task.id,
                "wait_s": queue_time_s,
                "position": queue.position_of(session, entry),
            },
            dedupe_key="overflow",
        )
        return LEAVE
    entry.status = QueueStatus.VOICEMAIL
    add_event(
        session,
        call,
        "overflow",
        now,
        {"choice": "voicemail", "wait_s": queue_time_s},
        dedupe_key="overflow",
    )
    return LEAVE


def _voicemail(session: Session, entry: QueueEntry, call: Call, now: datetime) -> Script:
    if call.patient_id is not None:
        practice = session.get_one(Practice, entry.practice_id)
        services.create_callback_task(
            session,
            practice,
            session.get_one(Patient, call.patient_id).phone,
            CallbackReason.VOICEMAIL,
            now,
            patient_id=call.patient_id,
            source_call_id=call.id,
        )
    return Script.of(
        Say(
            "Please leave your name, number and how we can help after the tone, "
            "and we will call you back shortly."
        ),
        Record(action=VOICEMAIL_DONE, recording_status_callback=VOICEMAIL_RECORDING_CALLBACK),
        Say("We did not receive a message. Goodbye."),
        Hangup(),
    )


def left_queue(
    session: Session,
    entry_id: int,
    call_sid: str,
    result: str,
    queue_time_s: int,
    now: datetime,
) -> Script:
    """The Enqueue action: why the caller left the queue. ``leave`` follows their choice,
    ``hangup`` is an abandoned call (with its wait), errors go to voicemail."""
    entry = _entry(session, entry_id, call_sid)
    call = session.get_one(Call, entry.call_id)
    if result in ("redirected", "bridged", "redirected-from-bridged", "bridging-in-process"):
        return EMPTY  # moved to a coordinator: the call goes on elsewhere
    if entry.wait_seconds is None:
        entry.wait_seconds = queue_time_s
    entry.left_at = entry.left_at or now
    if result == "hangup":
        if entry.status in (QueueStatus.WAITING, QueueStatus.ASSIGNED):
            assigned = entry.assigned_user_id if entry.status is QueueStatus.ASSIGNED else None
            entry.status = QueueStatus.ABANDONED
            add_event(
                session, call, "abandoned", now, {"wait_s": queue_time_s}, dedupe_key="abandoned"
            )
            if assigned is not None:  # reserved for them, never rung: free that coordinator
                services.release_coordinator(
                    session, assigned, call_sid, PresenceState.AVAILABLE, now
                )
        return EMPTY
    if result == "leave" and entry.status is QueueStatus.CALLBACK:
        return Script.of(
            Say(
                "Thank you. You keep your place in line, and a patient coordinator will call "
                "you back as soon as it is your turn. Goodbye."
            ),
            Hangup(),
        )
    if result != "leave":
        logger.error("queue error call_sid=%s result=%s", call_sid, result)
        add_event(session, call, "queue_error", now, {"result": result}, dedupe_key="queue_error")
    entry.status = QueueStatus.VOICEMAIL
    return _voicemail(session, entry, call, now)
