"""Texts from patients: STOP/START/HELP keyword families, the instant acknowledgment of a first
message, and the missed-call text-back. Consent changes go to the append-only ledger.

Keywords (DESIGN.md): the whole message, normalized (width, case, punctuation, spacing).
STOP, and an opt-out in plain words ("please stop", "stop texting me": ``ivr.opt_out``), opts
out at once with one confirmation; a message that may be an opt-out ("wrong number", "stop" in
a longer sentence) is flagged for a coordinator and pauses automated texts and calls
(``ivr.opt_out_review``). START/UNSTOP/YES opt back in (only when the number is opted out: a
"yes" in a conversation is just a message); HELP/INFO answer with the practice's name and
contact.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import DomainError
from contact_center.messaging import pause
from contact_center.messaging import services as messaging
from contact_center.messaging.events import InboundSms
from contact_center.messaging.models import Conversation, Message, MessageKind
from contact_center.messaging.templates import acknowledgment
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient, practice_by_number
from contact_center.phones import to_e164
from ivr.models import Call, CallStatus, ConsentKind, ConsentRecord, Direction
from ivr.opt_out import HELP_WORDS, START_WORDS, STOP_WORDS, Intent, intent_of, normalize
from routing import dialer
from routing.models import CallbackReason

logger = logging.getLogger(__name__)

# A missed call older than this gets no text-back any more (it would not be a reply).
TEXT_BACK_WINDOW = timedelta(minutes=15)


class Keyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


def keyword_of(body: str) -> Keyword | None:
    """The keyword family of a whole message, normalized ("ＳＴＯＰ", "Stop!", "S T O P",
    "stop all", "opt-out"); None for anything else (see ``ivr.opt_out.intent_of``)."""
    word = normalize(body).replace(" ", "")
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


@dataclass(frozen=True)
class SmsHandled:
    """What the webhook answers (``reply`` as TwiML) and what to enqueue after the commit."""

    reply: str | None = None
    dial_attempt_id: int | None = None
    dial_due: datetime | None = None


def stop_confirmation(practice: Practice) -> str:
    return (
        f"You have been unsubscribed from {practice.name} texts and will receive no more "
        "messages. Reply START to resubscribe."
    )


def start_confirmation(practice: Practice) -> str:
    return (
        f"You are resubscribed to texts from {practice.name}. Reply STOP to opt out, HELP for help."
    )


def help_text(session: Session, practice: Practice) -> str:
    contact = messaging.settings_for(session, practice.id).contact or practice.phone_number
    return (
        f"{practice.name}: for help call {contact}. Msg & data rates may apply. "
        "Reply STOP to opt out."
    )


def _ledger(
    session: Session,
    practice: Practice,
    phone: str,
    granted: bool,
    body: str,
    reply: str | None,
    now: datetime,
    method: str = "keyword",
) -> None:
    session.add(
        ConsentRecord(
            practice_id=practice.id,
            kind=ConsentKind.SMS,
            phone=phone,
            granted=granted,
            method=method,
            speech=body[:200],
            wording=reply,
            at=now,
        )
    )


def _reply(
    session: Session, practice: Practice, phone: str, text: str, now: datetime
) -> str | None:
    """Answer inside the TwiML, through the send function (None when it refuses)."""
    try:
        messaging.send_sms(
            session,
            practice,
            phone,
            text,
            MessageKind.KEYWORD_REPLY,
            now,
            direct_reply=True,
            in_twiml=True,
        )
    except DomainError as exc:
        logger.info("no reply to %s: %s", phone, exc)
        return None
    return text


def handle_inbound_sms(session: Session, event: InboundSms, now: datetime) -> SmsHandled:
    """Thread a patient's text and decide the answer. Idempotent on the MessageSid."""
    practice = practice_by_number(session, event.to_number)
    if practice is None:
        logger.warning(
            "sms to unknown number message_sid=%s to=%s", event.message_sid, event.to_number
        )
        return SmsHandled()
    try:
        phone = to_e164(event.from_number)
    except DomainError:
        logger.warning("sms from unreadable number message_sid=%s", event.message_sid)
        return SmsHandled()
    patient = find_or_add_patient(session, practice.id, phone, now)
    inbound = messaging.record_inbound(
        session,
        practice.id,
        phone,
        event.body,
        event.message_sid,
        now,
        patient_id=patient.id if patient else None,
    )
    if inbound.duplicate:
        return SmsHandled()
    conversation = inbound.conversation
    keyword = keyword_of(event.body)
    intent = Intent.OPT_OUT if keyword is Keyword.STOP else intent_of(event.body)
    opted_out = conversation.opted_out_at is not None
    if intent is Intent.OPT_OUT:
        if opted_out:
            return SmsHandled()  # one confirmation only
        # The confirmation is the last text this number gets: sent before the opt-out lands.
        reply = _reply(session, practice, phone, stop_confirmation(practice), now)
        messaging.set_opt_out(session, conversation, True, now)
        method = "keyword" if keyword is Keyword.STOP else "phrase"
        _ledger(session, practice, phone, False, event.body, reply, now, method)
        dialer.stop_for_opt_out(session, practice.id, phone, now)
        return SmsHandled(reply=reply)
    if keyword is Keyword.START and opted_out:
        messaging.set_opt_out(session, conversation, False, now)
        text = start_confirmation(practice)
        _ledger(session, practice, phone, True, event.body, text, now)
        return SmsHandled(reply=_reply(session, practice, phone, text, now))
    if keyword is Keyword.HELP:
        reply = _reply(session, practice, phone, help_text(session, practice), now)
        _ledger(session, practice, phone, not opted_out, event.body, reply, now)
        return SmsHandled(reply=reply)
    conversation.needs_reply = True
    if intent is Intent.POSSIBLE and not opted_out:
        # A person decides (the inbox's review queue); until then no acknowledgment, no new
        # callback, and every automated text and call to the number waits.
        if pause.flag_possible_opt_out(session, conversation, now):
            logger.info("possible opt-out message_sid=%s", event.message_sid)
        return SmsHandled()
    if opted_out or not inbound.first:
        return SmsHandled()  # the coordinators' inbox, no automatic reply
    task, attempt = dialer.open_callback(
        session,
        practice,
        phone,
        CallbackReason.SMS,
        now,
        patient_id=patient.id if patient else None,
        note="text message",
    )
    ack: str | None = acknowledgment(session, practice, now, task.due_at)
    try:
        messaging.send_sms(
            session,
            practice,
            phone,
            ack or "",
            MessageKind.ACKNOWLEDGMENT,
            now,
            direct_reply=True,
            in_twiml=True,
        )
    except DomainError as exc:
        logger.warning("acknowledgment refused message_sid=%s: %s", event.message_sid, exc)
        ack = None
    return SmsHandled(reply=ack, dial_attempt_id=attempt.id, dial_due=attempt.due_at)


def missed_call_text(session: Session, call_sid: str, now: datetime) -> Message | None:
    """One text to a caller whose inbound call ended unanswered (abandoned, voicemail, after
    hours), sent as a reply to the call they just made. None when not due or refused."""
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one_or_none()
    if (
        call is None
        or call.direction is not Direction.INBOUND
        or not call.status.is_final
        or call.answered_by_id is not None
        or call.patient_id is None
        or (call.ended_at is not None and now - call.ended_at > TEXT_BACK_WINDOW)
    ):
        return None
    practice = session.get_one(Practice, call.practice_id)
    phone = call.from_number
    custom = messaging.settings_for(session, practice.id).missed_call_text
    text = (
        custom
        or (
            "Sorry we missed your call at {practice_name}! A patient coordinator will call "
            "you back soon, or reply here. Reply STOP to opt out."
        )
    ).format(practice_name=practice.name)
    try:
        return messaging.send_sms(
            session,
            practice,
            phone,
            text,
            MessageKind.MISSED_CALL,
            now,
            direct_reply=True,
            dedupe_key=f"missed-call:{call.id}",
        )
    except DomainError as exc:
        logger.info("no missed-call text call_sid=%s: %s", call_sid, exc)
        return None


def unanswered_calls_without_text(session: Session, now: datetime) -> list[str]:
    """Recent unanswered inbound calls whose text-back is missing (the reconciler's list)."""
    since = now - TEXT_BACK_WINDOW
    calls = session.scalars(
        select(Call).where(
            Call.direction == Direction.INBOUND,
            Call.answered_by_id.is_(None),
            Call.patient_id.is_not(None),
            Call.ended_at >= since,
            Call.status.in_([s for s in CallStatus if s.is_final]),
        )
    ).all()
    if not calls:
        return []
    keys = {f"missed-call:{c.id}": c for c in calls}
    sent = set(session.scalars(select(Message.dedupe_key).where(Message.dedupe_key.in_(keys))))
    out = []
    for key, call in keys.items():
        if key in sent:
            continue
        conv_out = session.scalars(
            select(Conversation.opted_out_at).where(
                Conversation.practice_id == call.practice_id, Conversation.phone == call.from_number
            )
        ).first()
        if conv_out is None:
            out.append(call.call_sid)
    return out
