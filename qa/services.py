"""Scoring a transcript against the practice's scorecard, and what coordinators see of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.models import Patient, Practice, User
from ivr.models import Call
from ivr.timeline import add_event
from qa import outcomes, scorecards
from qa.models import CallScore, CriterionResult, Review, ScoreStatus
from qa.scoring import CallContext, score_call
from transcription import services as transcripts
from transcription.models import Transcript

logger = logging.getLogger(__name__)


def call_context(session: Session, call: Call) -> CallContext:
    """The names a scorecard's phrases may use: practice, coordinator and patient first names."""
    practice = session.get_one(Practice, call.practice_id)
    coordinator_id = call.answered_by_id or call.coordinator_id
    coordinator = session.get(User, coordinator_id) if coordinator_id else None
    patient = session.get(Patient, call.patient_id) if call.patient_id else None
    return CallContext(
        practice=practice.name,
        coordinator=coordinator.name.split()[0] if coordinator and coordinator.name else None,
        patient=patient.first_name if patient and patient.first_name else None,
    )


def score_transcript(session: Session, transcript_id: int, now: datetime) -> CallScore:
    """Score a transcript automatically, once; flag clinical advice on the call's timeline.

    Also records the transcript's suggested outcome. Raises NotFound for an unknown transcript.
    """
    existing = session.scalars(
        select(CallScore).where(CallScore.transcript_id == transcript_id)
    ).one_or_none()
    if existing is not None:
        return existing
    transcript = session.get(Transcript, transcript_id)
    if transcript is None:
        raise NotFound(f"no transcript {transcript_id}")
    call = session.get_one(Call, transcript.call_id)
    card = scorecards.current_scorecard(session, call.practice_id, now)
    specs = scorecards.specs_of(card)
    turns = transcripts.load_turns(session, transcript_id)
    result = score_call(specs, turns, call_context(session, call))
    score = CallScore(
        practice_id=call.practice_id,
        call_id=call.id,
        transcript_id=transcript_id,
        scorecard_id=card.id,
        coordinator_id=call.answered_by_id or call.coordinator_id,
        status=ScoreStatus.AUTOMATIC,
        automatic_score=result.score,
        score=result.score,
        compliance_flag=result.compliance_flag,
        created_at=now,
    )
    session.add(score)
    session.flush()
    for criterion, judgement in zip(card.criteria, result.judgements, strict=True):
        session.add(
            CriterionResult(
                call_score_id=score.id,
                criterion_id=criterion.id,
                met=judgement.met,
                evidence=[e.as_dict() for e in judgement.evidence],
            )
        )
    if result.compliance_flag:
        evidence = [
            e.as_dict() for j in result.judgements if j.key in result.flagged for e in j.evidence
        ]
        logger.warning("compliance: clinical advice language call_sid=%s", call.call_sid)
        add_event(
            session,
            call,
            "compliance",
            now,
            {
                "problem": "clinical_advice",
                "criteria": list(result.flagged),
                "evidence": evidence[:10],
            },
            dedupe_key=f"clinical-advice:{transcript_id}",
        )
    outcomes.record_suggestion(session, call, turns)
    session.flush()
    return score


@dataclass(frozen=True)
class Feedback:
    """A scored call as its coordinator sees it."""

    call_score_id: int
    call_id: int
    score: float
    status: ScoreStatus
    compliance_flag: bool
    comments: tuple[str, ...]
    scored_at: datetime


def coordinator_feedback(session: Session, user_id: int, limit: int = 50) -> list[Feedback]:
    """A coordinator's scored calls, newest first, with the comments of finalized reviews."""
    scores = session.scalars(
        select(CallScore)
        .where(CallScore.coordinator_id == user_id)
        .order_by(CallScore.created_at.desc(), CallScore.id.desc())
        .limit(limit)
    ).all()
    comments: dict[int, list[str]] = {}
    if scores:
        for review in session.scalars(
            select(Review)
            .where(
                Review.call_score_id.in_([s.id for s in scores]),
                Review.finalized_at.is_not(None),
                Review.comment.is_not(None),
            )
            .order_by(Review.finalized_at)
        ):
            comments.setdefault(review.call_score_id, []).append(review.comment or "")
    return [
        Feedback(
            s.id,
            s.call_id,
            s.score,
            s.status,
            s.compliance_flag,
            tuple(comments.get(s.id, ())),
            s.created_at,
        )
        for s in scores
    ]
