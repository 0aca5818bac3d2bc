"""The inbound voice flow: greeting, recording consent, menu, hand-off to a coordinator,
after hours and voicemail. Each function answers one Twilio webhook with the next ``Script``.

Preconditions for all: the caller owns the transaction (``session``) and passes ``now`` (UTC).
Unexpected errors propagate; the view turns them into an apology and voicemail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.hours import OpeningHours
from contact_center.models import ConsentMode, Patient, Practice
from contact_center.patients import find_or_add_patient, practice_by_number
from contact_center.voice import (
    Dial,
    DialClient,
    Enqueue,
    Gather,
    Hangup,
    Record,
    Say,
    Script,
)
from ivr import consent
from ivr.events import DialOutcome, GatherAnswer, IncomingCall, StatusUpdate, VoicemailLeft
from ivr.models import Call, CallStatus, Direction, MenuChoice
from ivr.timeline import add_event, rung_user_ids
from routing import services as routing
from routing.models import CallbackReason, PresenceState

logger = logging.getLogger(__name__)

UNKNOWN_NUMBER = Script.of(
    Say("We're sorry, the number you have called is not in service. Goodbye."), Hangup()
)
MENU_PROMPT = (
    "For a new consultation, press 1 or say consultation. "
    "For an existing appointment, press 2 or say appointment. "
    "For anything else, press 3, or stay on the line."
)
VOICEMAIL_DONE = "/twilio/voice/voicemail"
VOICEMAIL_RECORDING_CALLBACK = "/twilio/recordings/status?source=voicemail"
CALL_RECORDING_CALLBACK = "/twilio/recordings/status?source=call"


@dataclass(frozen=True)
class VoiceOptions:
    """Plain settings the flow needs (from Settings, passed by the view)."""

    ring_timeout_s: int = 20


class UnknownCall(NotFound):
    """A follow-up webhook for a CallSid we never saw (or a forged one)."""


def call_by_sid(session: Session, call_sid: str) -> Call:
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one_or_none()
    if call is None:
        raise UnknownCall(call_sid)
    return call


def _voicemail(prompt: str) -> Script:
    return Script.of(
        Say(prompt),
        Record(action=VOICEMAIL_DONE, recording_status_callback=VOICEMAIL_RECORDING_CALLBACK),
        Say("We did not receive a message. Goodbye."),
        Hangup(),
    )


def _menu(attempt: int = 1, *, lead_in: tuple[Say, ...] = ()) -> Script:
    return Script.of(
        Gather(
            action=f"/twilio/voice/menu?attempt={attempt}",
            prompt=(*lead_in, Say(MENU_PROMPT)),
            hints="consultation, appointment, something else",
        )
    )


def handle_incoming(session: Session, event: IncomingCall, now: datetime) -> Script:
    """A patient calls a practice number: greet, then ask consent (or say the hours)."""
    practice = practice_by_number(session, event.to_number)
    if practice is None:
        logger.warning("call to unknown number call_sid=%s to=%s", event.call_sid, event.to_number)
        return UNKNOWN_NUMBER
    call = session.scalars(select(Call).where(Call.call_sid == event.call_sid)).one_or_none()
    if call is None:
        patient = find_or_add_patient(session, practice.id, event.from_number, now)
        call = Call(
            practice_id=practice.id,
            call_sid=event.call_sid,
            direction=Direction.INBOUND,
            from_number=event.from_number[:32],
            to_number=event.to_number[:32],
            patient_id=patient.id if patient else None,
            status=CallStatus.RINGING,
            started_at=now,
        )
        session.add(call)
        session.flush()
        # A call created just now has no timeline to replay against: skip the check.
        add_event(
            session,
            call,
            "incoming",
            now,
            {"from": call.from_number},
            dedupe_key="incoming",
            fresh=True,
        )
    else:  # Twilio retried the webhook
        add_event(session, call, "incoming", now, {"from": call.from_number}, dedupe_key="incoming")
    greeting = Say(practice.greeting_text())

    hours = OpeningHours.parse(practice.hours_spec)
    if not hours.is_open(now, ZoneInfo(practice.timezone)):
        call.after_hours = True
        add_event(session, call, "after_hours", now, dedupe_key="after_hours")
        _open_callback(session, practice, call, CallbackReason.AFTER_HOURS, now)
        return Script.of(greeting) + _voicemail(
            f"Our office is closed right now. Our hours are {hours.describe()}. "
            "Please leave your name, number and how we can help after the tone, "
            "and a patient coordinator will call you back when we open."
        )

    if practice.consent_mode is ConsentMode.ONE_PARTY:
        consent.record_recording_consent(
            session,
            call,
            consent.ConsentDecision(True, "one_party"),
            now,
            wording=consent.ONE_PARTY_NOTICE,
        )
        return _menu(lead_in=(greeting, Say(consent.ONE_PARTY_NOTICE)))
    return Script.of(
        Gather(
            action="/twilio/voice/consent",
            prompt=(greeting, Say(consent.QUESTION)),
            hints="yes, no",
        )
    )


def answer_consent(session: Session, event: GatherAnswer, now: datetime) -> Script:
    """Store the caller's recording-consent answer with its evidence, then offer the menu."""
    call = call_by_sid(session, event.call_sid)
    decision = consent.decide(event.digits, event.speech, event.confidence)
    record = consent.record_recording_consent(
        session,
        call,
        decision,
        now,
        digits=event.digits,
        speech=event.speech,
        confidence=event.confidence,
    )
    add_event(
        session,
        call,
        "consent",
        now,
        {"granted": record.granted, "method": record.method},
        dedupe_key="consent",
    )
    ack = (
        "Thank you. This call will be recorded."
        if record.granted
        else ("Thank you. This call will not be recorded.")
    )
    return _menu(lead_in=(Say(ack),))


def _menu_choice(digits: str | None, speech: str | None) -> MenuChoice | None:
    if digits:
        return {"1": MenuChoice.CONSULTATION, "2": MenuChoice.EXISTING, "3": MenuChoice.OTHER}.get(
            digits[:1]
        )
    if speech:
        said = speech.lower()
        if "consult" in said or "new" in said:
            return MenuChoice.CONSULTATION
        if "appointment" in said or "existing" in said or "reschedul" in said:
            return MenuChoice.EXISTING
        return MenuChoice.OTHER
    return None


def choose_menu(
    session: Session, event: GatherAnswer, attempt: int, now: datetime, options: VoiceOptions
) -> Script:
    """Keep the caller's menu choice on the call, then connect them."""
    call = call_by_sid(session, event.call_sid)
    choice = _menu_choice(event.digits, event.speech)
    if choice is None:
        if event.digits and attempt < 2:  # a stray key: say the options once more
            return _menu(attempt + 1, lead_in=(Say("Sorry, that is not an option."),))
        choice = MenuChoice.OTHER  # silence means "anything else"
    if call.menu_choice is None:
        call.menu_choice = choice
        add_event(session, call, "menu", now, {"choice": choice.value}, dedupe_key="menu")
    return connect_to_coordinator(session, call, now, options)


def connect_to_coordinator(
    session: Session, call: Call, now: datetime, options: VoiceOptions
) -> Script:
    """Ring the longest-idle available coordinator not yet tried (or the one reserved for this
    caller while they waited); nobody free: the practice queue, keeping the caller's place;
    nobody signed in for this call: voicemail and a callback task."""
    practice = session.get_one(Practice, call.practice_id)
    routed = routing.route_call(
        session,
        call,
        now,
        choice=call.menu_choice.value if call.menu_choice else None,
        exclude_user_ids=rung_user_ids(session, call.id),
    )
    if routed.user is None and not routed.staffed:
        add_event(session, call, "no_coordinator", now, dedupe_key="no_coordinator")
        _open_callback(session, practice, call, CallbackReason.NO_COORDINATOR, now)
        return _voicemail(
            "All of our patient coordinators are helping other patients. "
            "Please leave your name, number and how we can help after the tone, "
            "and we will call you back shortly."
        )
    entry = routed.entry
    if routed.user is None:
        add_event(
            session,
            call,
            "queued",
            now,
            {"position": routed.position, "entry_id": entry.id},
            dedupe_key=f"queued:{entry.id}:{entry.offers}",
        )
        return Script.of(
            Say(
                "All of our patient coordinators are helping other patients. "
                "Please stay on the line: the next available coordinator will be with you."
            ),
            Enqueue(
                name=routing.queue_name(practice.id),
                wait_url=routing.wait_url(entry.id),
                action=routing.action_url(entry.id),
            ),
        )
    user = routed.user
    call.coordinator_id = user.id
    add_event(
        session,
        call,
        "ring",
        now,
        {"user_id": user.id, "identity": user.identity},
        dedupe_key=f"ring:{user.id}:{entry.offers}",
    )
    sid = quote(call.call_sid)
    return Script.of(
        Say("Please hold while we connect you to a patient coordinator."),
        Dial(
            action="/twilio/voice/dial-result",
            clients=(
                DialClient(
                    identity=user.identity,
                    whisper_url=f"/twilio/voice/whisper?call={sid}",
                    status_callback=f"/twilio/voice/agent-status?call={sid}",
                ),
            ),
            timeout=options.ring_timeout_s,
            record=bool(call.recording_allowed),
            recording_status_callback=CALL_RECORDING_CALLBACK,
        ),
    )


def whisper(session: Session, call_sid: str) -> Script:
    """What the coordinator hears before the caller is connected: practice and reason."""
    call = call_by_sid(session, call_sid)
    practice = session.get_one(Practice, call.practice_id)
    choice = (call.menu_choice or MenuChoice.OTHER).spoken
    return Script.of(Say(f"{practice.name}, {choice}."))


def dial_finished(
    session: Session, event: DialOutcome, now: datetime, options: VoiceOptions
) -> Script:
    """The <Dial> ended: done if the coordinator answered, else mark them away and try the next."""
    call = call_by_sid(session, event.call_sid)
    first_time = add_event(
        session,
        call,
        "dial_result",
        now,
        {"status": event.dial_status, "user_id": call.coordinator_id},
        dedupe_key=f"dial:{event.dial_call_sid or event.dial_status}:{call.coordinator_id}",
    )
    if event.dial_status in ("completed", "answered"):
        if call.coordinator_id is not None:
            call.answered_by_id = call.answered_by_id or call.coordinator_id
            # After-call work; it ends by itself after the practice's wrap-up time.
            routing.finish_call(session, call.coordinator_id, call.call_sid, now)
        return Script.of(Hangup())
    if first_time and call.coordinator_id is not None:
        # Rang out or refused: they likely walked away from the desk.
        routing.release_coordinator(
            session, call.coordinator_id, call.call_sid, PresenceState.AWAY, now
        )
        call.coordinator_id = None
    return connect_to_coordinator(session, call, now, options)


def voicemail_left(session: Session, event: VoicemailLeft, now: datetime) -> Script:
    """The <Record> finished: thank the caller. The recording itself arrives by callback."""
    call = call_by_sid(session, event.call_sid)
    if event.recording_sid is None or event.duration_s <= 0:
        return Script.of(Say("We did not receive a message. Goodbye."), Hangup())
    add_event(
        session,
        call,
        "voicemail",
        now,
        {"recording_sid": event.recording_sid, "duration_s": event.duration_s},
        dedupe_key=f"voicemail:{event.recording_sid}",
    )
    return Script.of(
        Say("Thank you. A patient coordinator will call you back as soon as possible. Goodbye."),
        Hangup(),
    )


def update_call_status(session: Session, event: StatusUpdate, now: datetime) -> bool:
    """Apply a status callback for the caller's call. Order-safe and idempotent.

    Returns True when the status moved forward. Unknown CallSids are ignored (False).
    """
    call = session.scalars(select(Call).where(Call.call_sid == event.call_sid)).one_or_none()
    try:
        status = CallStatus(event.status)
    except ValueError:
        logger.warning("unknown call status %r call_sid=%s", event.status, event.call_sid)
        return False
    if call is None:
        logger.warning("status for unknown call call_sid=%s", event.call_sid)
        return False
    add_event(session, call, "status", now, {"status": status.value}, dedupe_key=f"status:{status}")
    if status.rank <= call.status.rank:
        return False  # a late or replayed callback: statuses only move forward
    call.status = status
    if status.is_final:
        call.ended_at = now
        call.duration_s = event.duration_s
        practice = session.get_one(Practice, call.practice_id)
        if call.coordinator_id is not None:
            routing.release_coordinator(
                session, call.coordinator_id, call.call_sid, PresenceState.AVAILABLE, now
            )
        if call.answered_by_id is None:
            _open_callback(session, practice, call, CallbackReason.MISSED_CALL, now)
    return True


def coordinator_leg_status(session: Session, parent_sid: str, status: str, now: datetime) -> None:
    """Status of the coordinator's leg of a call: answered means they are on the call."""
    call = call_by_sid(session, parent_sid)
    add_event(
        session,
        call,
        "coordinator_leg",
        now,
        {"status": status, "user_id": call.coordinator_id},
        dedupe_key=f"leg:{status}:{call.coordinator_id}",
    )
    if status == "in-progress" and call.coordinator_id is not None:
        call.answered_at = call.answered_at or now
        call.answered_by_id = call.coordinator_id
        routing.mark_on_call(session, call.coordinator_id, call.call_sid, now)


def _open_callback(
    session: Session, practice: Practice, call: Call, reason: CallbackReason, now: datetime
) -> None:
    if call.patient_id is None:
        return  # withheld number: nobody to call back
    patient_phone = session.get_one(Patient, call.patient_id).phone
    routing.create_callback_task(
        session,
        practice,
        patient_phone,
        reason,
        now,
        patient_id=call.patient_id,
        source_call_id=call.id,
    )
