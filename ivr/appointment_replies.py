"""A patient's answer to an appointment reminder: confirm, reschedule, or neither.

``classify`` reads the whole message after folding width, case, emoji skin tones and
punctuation: "C", "confirm", "yes", a thumbs-up, "ok see you then" confirm; "R", "reschedule",
"can't make it", "need to move it" ask to reschedule; anything else (a question, "yes but ...")
is left to a person in the inbox. ``handle_reminder_reply`` applies it only when the patient has
an upcoming appointment whose reminder was sent; the STOP/START/HELP keywords are decided
before it is ever called.

Confirm: ``confirmed_at`` is set and the patient gets a short acknowledgment. Reschedule: a
callback task (reason ``reschedule``) for the coordinators, and a signed, expiring link to a
page where the patient picks another free slot or asks for a call.
"""

from __future__ import annotations

import enum
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments import reminders
from appointments import services as appointments
from appointments.links import Links
from appointments.models import Appointment
from contact_center.errors import DomainError
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageKind
from contact_center.models import Practice
from routing import dialer
from routing.models import CallbackReason, CallbackStatus, CallbackTask

logger = logging.getLogger(__name__)


class ReplyKind(enum.StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"


_EMOJI_WORDS = {
    "\U0001f44d": " yes ",  # thumbs up
    "\U0001f44c": " ok ",  # OK hand
    "\u2705": " yes ",  # check mark button
    "\u2714": " yes ",  # heavy check mark
    "\u2611": " yes ",  # ballot box with check
    "\U0001f197": " ok ",  # OK button
    "\U0001f64c": " yes ",  # raising hands
}
# Skin tones, variation selectors and joiners change nothing about the meaning.
_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0e\ufe0f\u200d]")

_RESCHEDULE = [
    re.compile(p)
    for p in (
        r"\bre ?-?sched\w*",
        r"\brebook\w*",
        r"\bpostpone\w*",
        r"\bcancel\w*\b.*\b(appt|appointment|it|this|that)\b",
        r"\b(need|have|want|got) to cancel\b",
        r"\b(can ?not|can'?t|cant|won'?t|wont|will not|unable to|not able to|couldn'?t|"
        r"can no longer|not gonna|not going to)\b.{0,30}\b(make|come|attend|be there|go|do it)\b",
        r"\b(move|change|push|switch|shift|bump)\b.{0,25}"
        r"\b(it|appt|appointment|time|day|date|back|out|later|earlier|that|this)\b",
        r"\b(different|another|other|new|later|earlier)\s+(time|day|date|slot|appt|appointment)\b",
        r"\bsomething (came|has come|come) up\b",
    )
]
_CONFIRM_PHRASES = [
    re.compile(p)
    for p in (
        r"\bsee (you|ya|u|y'all)( (then|there|soon|tomorrow|today|on \w+|at \d+( ?[ap]m)?|"
        r"\w+day))?\b",
        r"\b(i'?ll|i will|will|we'?ll|we will|i'?m going to) be there\b",
        r"\bsounds (good|great|perfect)\b",
        r"\b(that )?works( for me)?\b",
        r"\blooking forward( to it)?\b",
        r"\bgot it\b",
        r"\bcount me in\b",
        r"\ball (good|set)\b",
        r"\bthank(s| you)\b",
    )
]
_CONFIRM_WORDS = frozenset(
    {
        "c",
        "confirm",
        "confirmed",
        "confirming",
        "yes",
        "y",
        "yep",
        "yeah",
        "yea",
        "ya",
        "yup",
        "yess",
        "yesss",
        "yas",
        "sure",
        "ok",
        "okay",
        "okey",
        "k",
        "kk",
        "absolutely",
        "definitely",
        "correct",
        "si",
        "oui",
        "perfect",
        "great",
        "awesome",
    }
)
# Words that may stand beside a confirmation without changing it.
_FILLER = frozenset(
    {
        "thanks",
        "thank",
        "thx",
        "ty",
        "you",
        "u",
        "so",
        "much",
        "and",
        "please",
        "pls",
        "plz",
        "great",
        "perfect",
        "awesome",
        "cool",
        "good",
        "wonderful",
        "excellent",
        "fine",
        "i",
        "we",
        "am",
        "im",
        "i'm",
        "will",
        "be",
        "there",
        "it",
        "that",
        "is",
        "the",
        "my",
        "appointment",
        "appt",
        "for",
        "a",
        "of",
        "course",
        "hi",
        "hello",
        "hey",
        "oh",
        "ma'am",
        "sir",
        "again",
        "lol",
    }
)
_NEGATIONS = frozenset({"no", "not", "don't", "dont", "never", "nope", "nah", "cannot", "can't"})


def normalize(body: str) -> str:
    text = unicodedata.normalize("NFKC", body)
    text = _MODIFIERS.sub("", text)
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    text = text.casefold().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def classify(body: str) -> ReplyKind | None:
    """What a reply to a reminder asks for; None: a person should read it."""
    text = normalize(body)
    if not text:
        return None
    tokens = text.split()
    if tokens[0] == "r" and all(t in _FILLER for t in tokens[1:]):
        return ReplyKind.RESCHEDULE
    if any(p.search(text) for p in _RESCHEDULE):
        return ReplyKind.RESCHEDULE
    if _NEGATIONS & set(tokens):
        return None
    signal = False
    rest = text
    for phrase in _CONFIRM_PHRASES:
        if phrase.search(rest):
            signal = signal or "thank" not in phrase.pattern
            rest = phrase.sub(" ", rest)
    words = rest.split()
    signal = signal or any(w in _CONFIRM_WORDS for w in words)
    if signal and all(w in _CONFIRM_WORDS or w in _FILLER for w in words):
        return ReplyKind.CONFIRM
    return None


@dataclass(frozen=True)
class ReplyHandled:
    kind: ReplyKind
    reply: str | None
    dial_attempt_id: int | None = None
    dial_due: datetime | None = None


def confirmation_text(practice: Practice, appointment: Appointment) -> str:
    day, at = reminders.when_text(appointment.start_at, ZoneInfo(practice.timezone))
    return f"Thank you, you are confirmed for {day} at {at} at {practice.name}."


def reschedule_text(practice: Practice, url: str | None) -> str:
    if url is None:
        return f"No problem. {practice.name} will call you to find a new time."
    return (
        f"No problem. Pick a new time here: {url} or reply with a good time to call you. "
        f"{practice.name}"
    )


def _open_reschedule_task(
    session: Session,
    practice: Practice,
    phone: str,
    appointment: Appointment,
    now: datetime,
    note: str,
) -> tuple[CallbackTask, datetime | None, int | None]:
    """The coordinators' reschedule task for this patient (one open at a time)."""
    existing = session.scalars(
        select(CallbackTask).where(
            CallbackTask.practice_id == practice.id,
            CallbackTask.phone == phone,
            CallbackTask.reason == CallbackReason.RESCHEDULE,
            CallbackTask.status.in_([CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]),
        )
    ).first()
    if existing is not None:
        return existing, None, None
    task, attempt = dialer.open_callback(
        session,
        practice,
        phone,
        CallbackReason.RESCHEDULE,
        now,
        patient_id=appointment.patient_id,
        note=note,
    )
    return task, attempt.due_at, attempt.id


def request_call(
    session: Session, appointment: Appointment, now: datetime, note: str
) -> tuple[CallbackTask, datetime | None, int | None]:
    """The patient asked for a call about moving ``appointment`` (the reschedule page)."""
    practice = session.get_one(Practice, appointment.practice_id)
    phone = reminders.patient_phone(session, appointment)
    return _open_reschedule_task(session, practice, phone, appointment, now, note)


def handle_reminder_reply(
    session: Session,
    practice: Practice,
    phone: str,
    patient_id: int | None,
    body: str,
    now: datetime,
    links: Links | None,
) -> ReplyHandled | None:
    """Apply a reply to the patient's reminded upcoming appointment; None when the message is
    not an answer to a reminder (no such appointment, or neither confirm nor reschedule)."""
    if patient_id is None:
        return None
    kind = classify(body)
    if kind is None:
        return None
    appointment = reminders.reminded_appointment(session, patient_id, now)
    if appointment is None:
        return None
    if kind is ReplyKind.CONFIRM:
        appointments.confirm(session, appointment.id, "patient", now, note="replied to reminder")
        text = confirmation_text(practice, appointment)
        return ReplyHandled(kind, _answer(session, practice, phone, text, now))
    day, at = reminders.when_text(appointment.start_at, ZoneInfo(practice.timezone))
    task, due, attempt_id = _open_reschedule_task(
        session,
        practice,
        phone,
        appointment,
        now,
        f"wants to reschedule the appointment on {day} at {at} (replied to reminder)",
    )
    url = None
    if links is not None:
        settings = reminders.settings_for(session, practice.id)
        url = links.url(
            appointment.id, appointment.start_at, timedelta(hours=settings.link_hours), now
        )
    logger.info("reschedule asked appointment_id=%s task_id=%s", appointment.id, task.id)
    reply = _answer(session, practice, phone, reschedule_text(practice, url), now)
    return ReplyHandled(kind, reply, attempt_id, due)


def _answer(
    session: Session, practice: Practice, phone: str, text: str, now: datetime
) -> str | None:
    """A direct reply inside the webhook's TwiML, through the send function."""
    try:
        messaging.send_sms(
            session,
            practice,
            phone,
            text,
            MessageKind.ACKNOWLEDGMENT,
            now,
            direct_reply=True,
            in_twiml=True,
        )
    except DomainError as exc:
        logger.info("no answer to a reminder reply: %s", exc)
        return None
    return text
