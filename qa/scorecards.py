"""Scorecards per practice, versioned; the default one the product ships with.

A practice's current scorecard is its highest version. Publishing changes creates a new version;
scores keep pointing at the version they were made with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from qa.models import Criterion, CriterionKind, Expectation, Scorecard
from qa.scoring import CriterionSpec

_TIME = (
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon)"
    r"( o'clock| thirty| fifteen| forty five| forty| twenty| a m| p m| in the (morning|afternoon"
    r"|evening))"
)
_DAY = r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow)\b"

# Built from how practices judge a good consultation call. Weights sum to 100.
DEFAULT_CRITERIA: tuple[CriterionSpec, ...] = (
    CriterionSpec(
        "greeting_practice",
        "Greeted with the practice name",
        10,
        within_s=30,
        phrases=("thank you for calling {practice}", "thanks for calling {practice}", "{practice}"),
    ),
    CriterionSpec(
        "coordinator_name",
        "Coordinator gave their name",
        8,
        within_s=30,
        phrases=("this is {coordinator}", "my name is {coordinator}", "{coordinator} speaking"),
        patterns=(r"\bmy name is \w+", r"\bthis is (\w+)(?= speaking| how can)"),
    ),
    CriterionSpec("patient_name", "Used the patient's name", 7, phrases=("{patient}",)),
    CriterionSpec(
        "recording_disclosure",
        "Recording disclosure",
        5,
        phrases=(
            "call is being recorded",
            "call may be recorded",
            "call is recorded",
            "recorded for quality",
        ),
    ),
    CriterionSpec(
        "asked_goal",
        "Asked about the patient's goal",
        10,
        phrases=(
            "what are you hoping",
            "what brings you in",
            "what would you like to",
            "what are your goals",
            "what are you looking to",
            "what made you interested",
            "what concerns you",
            "your goal",
        ),
    ),
    CriterionSpec(
        "offered_time",
        "Offered a specific appointment time",
        15,
        patterns=(_DAY + r".*" + _TIME, _TIME + r".*" + _DAY),
    ),
    CriterionSpec(
        "next_steps",
        "Confirmed next steps and what to bring",
        10,
        phrases=(
            "please bring",
            "bring your",
            "you will get a text",
            "you will receive a confirmation",
            "confirmation text",
            "arrive fifteen minutes early",
            "arrive a few minutes early",
            "fill out the forms",
            "intake form",
        ),
    ),
    CriterionSpec(
        "set_expectations",
        "Set expectations for the visit",
        10,
        phrases=("you can expect", "during your visit", "at your visit", "at your consultation"),
        patterns=(r"\btakes? about \w+( \w+)? (minutes?|hours?)",),
    ),
    CriterionSpec(
        "no_clinical_advice",
        "No clinical advice",
        10,
        expect="absent",
        compliance=True,
        phrases=(
            "you should take",
            "you can take",
            "stop taking",
            "stop using",
            "keep taking",
            "it is safe to",
            "it's safe to",
            "safe while pregnant",
            "safe during pregnancy",
            "ibuprofen",
            "aspirin",
            "antibiotic",
            "antibiotics",
            "dosage",
            "double the dose",
            "you don't need to see",
            "you do not need to see",
            "that sounds like an infection",
            "put some ice on",
            "it's nothing to worry about",
        ),
    ),
    CriterionSpec(
        "no_pressure",
        "No pressure language",
        5,
        expect="absent",
        phrases=(
            "only today",
            "today only",
            "limited time",
            "last chance",
            "act now",
            "book now or",
            "you need to decide",
            "won't last",
            "before the price goes up",
            "spots are almost gone",
        ),
    ),
    CriterionSpec(
        "warm_close",
        "Warm close",
        10,
        phrases=(
            "have a great day",
            "have a nice day",
            "have a wonderful day",
            "we look forward to seeing you",
            "look forward to seeing you",
            "take care",
            "goodbye",
        ),
    ),
)


def _check(specs: Sequence[CriterionSpec]) -> None:
    keys = [s.key for s in specs]
    if not specs:
        raise InvalidInput("a scorecard needs at least one criterion", "criteria")
    if len(set(keys)) != len(keys):
        raise InvalidInput("criterion keys must be unique", "criteria")
    for s in specs:
        if s.weight <= 0:
            raise InvalidInput(f"criterion {s.key}: weight must be positive", "weight")
        if s.kind not in (k.value for k in CriterionKind):
            raise InvalidInput(f"criterion {s.key}: kind must be automatic or manual", "kind")
        if s.expect not in (e.value for e in Expectation):
            raise InvalidInput(f"criterion {s.key}: expect must be present or absent", "expect")
        if s.speaker not in ("patient", "coordinator", "any"):
            raise InvalidInput(f"criterion {s.key}: unknown speaker {s.speaker!r}", "speaker")
        if s.within_s is not None and s.within_s <= 0:
            raise InvalidInput(f"criterion {s.key}: time window must be positive", "within_s")
        for pattern in s.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidInput(f"criterion {s.key}: bad pattern: {exc}", "patterns") from exc


def publish_scorecard(
    session: Session,
    practice_id: int,
    specs: Sequence[CriterionSpec],
    now: datetime,
    name: str = "Call quality",
) -> Scorecard:
    """Save a new version of the practice's scorecard. Raises InvalidInput for bad criteria."""
    _check(specs)
    latest = session.scalar(
        select(func.max(Scorecard.version)).where(Scorecard.practice_id == practice_id)
    )
    card = Scorecard(practice_id=practice_id, version=(latest or 0) + 1, name=name, created_at=now)
    session.add(card)
    session.flush()
    for position, spec in enumerate(specs):
        session.add(
            Criterion(
                scorecard_id=card.id,
                position=position,
                key=spec.key,
                label=spec.label,
                weight=spec.weight,
                kind=CriterionKind(spec.kind),
                speaker=spec.speaker,
                expect=Expectation(spec.expect),
                phrases=list(spec.phrases),
                patterns=list(spec.patterns),
                within_s=spec.within_s,
                compliance=spec.compliance,
            )
        )
    session.flush()
    session.refresh(card)
    return card


def current_scorecard(session: Session, practice_id: int, now: datetime) -> Scorecard:
    """The practice's latest scorecard; the default one is published on first use."""
    card = session.scalars(
        select(Scorecard)
        .where(Scorecard.practice_id == practice_id)
        .order_by(Scorecard.version.desc())
        .limit(1)
    ).first()
    return card or publish_scorecard(session, practice_id, DEFAULT_CRITERIA, now)


def specs_of(card: Scorecard) -> list[CriterionSpec]:
    return [
        CriterionSpec(
            key=c.key,
            label=c.label,
            weight=c.weight,
            kind=c.kind.value,
            speaker=c.speaker,
            expect=c.expect.value,
            phrases=tuple(c.phrases),
            patterns=tuple(c.patterns),
            within_s=c.within_s,
            compliance=c.compliance,
        )
        for c in card.criteria
    ]


def spec_dicts(specs: Sequence[CriterionSpec]) -> list[dict[str, object]]:
    return [asdict(s) for s in specs]
