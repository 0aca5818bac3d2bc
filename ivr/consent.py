"""Recording consent: deciding what a caller's answer means, and the append-only ledger.

All-party rule (DESIGN.md): only an affirmative answer allows recording: key 1, or a spoken yes
heard with enough confidence. Silence, other keys, "no", or anything unclear mean no.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.models import Call, ConsentKind, ConsentRecord

QUESTION = (
    "To help us serve you better, we would like to record this call. "
    "To allow recording, press 1 or say yes. To continue without recording, press 2 or say no."
)
ONE_PARTY_NOTICE = "This call may be recorded for quality and training."
# Below this, a spoken "yes" is not trusted: no recording.
MIN_SPEECH_CONFIDENCE = 0.5

_YES = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "yes please",
    "yes you may",
    "you may",
    "that's fine",
    "thats fine",
    "fine",
    "i agree",
    "agree",
    "of course",
    "go ahead",
    "allow",
    "yes that's fine",
    "yes sure",
    "sure thing",
    "absolutely",
}
_NEGATIONS = {"no", "not", "don't", "dont", "nope", "never", "decline", "rather"}


@dataclass(frozen=True)
class ConsentDecision:
    granted: bool
    method: str  # dtmf, speech, silence, one_party


def decide(digits: str | None, speech: str | None, confidence: float | None) -> ConsentDecision:
    """Interpret a consent answer under the all-party rule."""
    if digits:
        return ConsentDecision(digits == "1", "dtmf")
    if speech:
        words = re.sub(r"[^a-z' ]+", " ", speech.lower()).split()
        phrase = " ".join(words)
        affirmative = phrase in _YES and not _NEGATIONS.intersection(words)
        trusted = confidence is not None and confidence >= MIN_SPEECH_CONFIDENCE
        return ConsentDecision(affirmative and trusted, "speech")
    return ConsentDecision(False, "silence")


def consent_for_call(session: Session, call_id: int) -> ConsentRecord | None:
    return session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.call_id == call_id, ConsentRecord.kind == ConsentKind.RECORDING
        )
    ).one_or_none()


def record_recording_consent(
    session: Session,
    call: Call,
    decision: ConsentDecision,
    now: datetime,
    *,
    digits: str | None = None,
    speech: str | None = None,
    confidence: float | None = None,
    wording: str = QUESTION,
) -> ConsentRecord:
    """Append the caller's answer to the ledger (once per call) and set the call's flag."""
    existing = consent_for_call(session, call.id)
    if existing is not None:  # Twilio replayed the Gather action: the first answer stands
        return existing
    record = ConsentRecord(
        practice_id=call.practice_id,
        kind=ConsentKind.RECORDING,
        phone=call.from_number,
        call_id=call.id,
        granted=decision.granted,
        method=decision.method,
        digits=digits,
        speech=speech,
        confidence=confidence,
        wording=wording,
        at=now,
    )
    session.add(record)
    call.recording_allowed = decision.granted
    session.flush()
    return record
