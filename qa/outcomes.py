"""Call outcomes: the coordinator's disposition, the transcript's suggestion, and their mismatch.

Every call gets a disposition from its coordinator. When a transcript exists it suggests one from
what was said ("I have you down for Tuesday at three" suggests a booking); a disposition that
disagrees with the suggestion on whether anything was booked is flagged for QA.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments.models import Appointment, ServiceKind
from appointments.services import BookingRequest, book_for_call
from contact_center.errors import Forbidden, InvalidInput, NotFound
from ivr.models import Call
from qa.audit import may_read_call
from qa.models import CallOutcome, Disposition
from qa.scoring import normalize
from transcription.turns import Turn

_BOOKED = re.compile(
    r"\b(i (have|had) you down for|i have you booked|you are all set|you're all set|i booked you"
    r"|i've booked you|i have booked you|i scheduled you|i've scheduled you|put you down for"
    r"|your appointment is (on|at|for)|we will see you (on|at)|we'll see you (on|at)"
    r"|see you (on|at) (monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
)
_TREATMENT = re.compile(
    r"\b(treatment|botox|filler|facial|peel|laser|microneedling|session|injection)s?\b"
)
_CONSULT = re.compile(r"\b(consultation|consult)\b")
_WRONG = re.compile(r"\b(wrong number)\b")
_NOT_INTERESTED = re.compile(r"\b(not interested|no longer interested)\b")
_VOICEMAIL = re.compile(r"\b(leave a message|after the tone|after the beep)\b")


@dataclass(frozen=True)
class Suggestion:
    disposition: Disposition | None
    evidence: tuple[dict[str, Any], ...] = ()


def _evidence(turn: Turn, match: re.Match[str]) -> dict[str, Any]:
    return {
        "speaker": turn.speaker,
        "start_s": turn.start_s,
        "end_s": turn.end_s,
        "text": normalize(turn.text),
        "matched": match.group(0),
    }


def suggest_disposition(turns: Sequence[Turn]) -> Suggestion:
    """What the words of a call suggest it ended with (None when they say nothing clear)."""
    texts = [(turn, normalize(turn.text)) for turn in turns]
    for turn, text in texts:
        if (m := _WRONG.search(text)) is not None:
            return Suggestion(Disposition.WRONG_NUMBER, (_evidence(turn, m),))
    for turn, text in texts:
        # On an outbound call, the patient's voicemail greeting plays on the patient's channel.
        if turn.speaker == "patient" and (m := _VOICEMAIL.search(text)) is not None:
            return Suggestion(Disposition.VOICEMAIL_LEFT, (_evidence(turn, m),))
    booked = [
        (turn, m)
        for turn, text in texts
        if turn.speaker != "patient"
        if (m := _BOOKED.search(text)) is not None
    ]
    if booked:
        whole = " ".join(text for _, text in texts)
        kind = (
            Disposition.BOOKED_TREATMENT
            if _TREATMENT.search(whole) and not _CONSULT.search(whole)
            else Disposition.BOOKED_CONSULTATION
        )
        return Suggestion(kind, tuple(_evidence(t, m) for t, m in booked))
    for turn, text in texts:
        if turn.speaker == "patient" and (m := _NOT_INTERESTED.search(text)) is not None:
            return Suggestion(Disposition.NOT_INTERESTED, (_evidence(turn, m),))
    return Suggestion(None)


def _outcome(session: Session, call: Call) -> CallOutcome:
    outcome = session.scalars(
        select(CallOutcome).where(CallOutcome.call_id == call.id)
    ).one_or_none()
    if outcome is None:
        outcome = CallOutcome(
            practice_id=call.practice_id, call_id=call.id, mismatch=False, suggestion_evidence=[]
        )
        session.add(outcome)
    return outcome


def _mismatch(outcome: CallOutcome) -> bool:
    if outcome.suggested is None or outcome.disposition is None:
        return False
    return outcome.suggested.booked != outcome.disposition.booked


def record_suggestion(session: Session, call: Call, turns: Sequence[Turn]) -> CallOutcome:
    """Store what the transcript suggests and re-check the mismatch flag."""
    suggestion = suggest_disposition(turns)
    outcome = _outcome(session, call)
    outcome.suggested = suggestion.disposition
    outcome.suggestion_evidence = list(suggestion.evidence)
    outcome.mismatch = _mismatch(outcome)
    session.flush()
    return outcome


def set_outcome(
    session: Session,
    call_id: int,
    user_id: int,
    disposition: Disposition | str,
    now: datetime,
    *,
    booked_for: datetime | None = None,
    note: str | None = None,
    booking: BookingRequest | None = None,
) -> CallOutcome:
    """The coordinator's disposition of a call. Raises InvalidInput, Forbidden or NotFound,
    and SlotTaken (appointments.services) when the slot booked went to someone else.

    Only those the call access rule allows (the coordinator on the call, QA leads, admins).

    A booked consultation needs its date: a ``booking`` (service and free slot, from the
    wrap-up's booking form) books the caller in the same transaction, and the appointment's
    start becomes ``booked_for``; a bare ``booked_for`` is still accepted (no appointment).
    """
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    try:
        disposition = Disposition(disposition)
    except ValueError as exc:
        raise InvalidInput(f"unknown disposition {disposition!r}", "disposition") from exc
    if booking is not None and not disposition.booked:
        booking = None  # the form's booking fields are left over from another choice
    if disposition is Disposition.BOOKED_CONSULTATION and booked_for is None and booking is None:
        raise InvalidInput("a booked consultation needs its date and time", "booked_for")
    if not may_read_call(session, user_id, call):
        raise Forbidden(
            "only the coordinator on this call and the practice's QA leads and admins set "
            "its outcome"
        )
    if booking is not None:
        kind = (
            ServiceKind.CONSULTATION
            if disposition is Disposition.BOOKED_CONSULTATION
            else ServiceKind.TREATMENT
        )
        appointment: Appointment = book_for_call(
            session, call.practice_id, call.id, call.patient_id, booking, kind, user_id, now
        )
        booked_for = appointment.start_at
    outcome = _outcome(session, call)
    outcome.disposition = disposition
    outcome.booked_for = booked_for
    outcome.note = note
    outcome.set_by_id = user_id
    outcome.set_at = now
    outcome.mismatch = _mismatch(outcome)
    session.flush()
    return outcome


def calls_without_outcome(session: Session, practice_id: int, since: datetime) -> list[Call]:
    """Answered calls since ``since`` that still wait for their coordinator's disposition."""
    done = select(CallOutcome.call_id).where(CallOutcome.disposition.is_not(None))
    return list(
        session.scalars(
            select(Call)
            .where(
                Call.practice_id == practice_id,
                Call.started_at >= since,
                Call.answered_by_id.is_not(None),
                Call.id.not_in(done),
            )
            .order_by(Call.started_at)
        )
    )


def mismatched_outcomes(session: Session, practice_id: int) -> list[CallOutcome]:
    """Outcomes QA should look at: the disposition disagrees with what was said."""
    return list(
        session.scalars(
            select(CallOutcome).where(
                CallOutcome.practice_id == practice_id, CallOutcome.mismatch.is_(True)
            )
        )
    )
