"""The QA call page's data and actions, through the QA, transcription and recordings features.

Reading a transcript or a recording goes through their audited readers (``read_transcript``,
``open_recording``): the access rule (QA leads, admins, the call's coordinator) and the audit
row are theirs. Review actions go through ``qa.review``; outcomes through ``qa.outcomes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.web import queries
from ivr.models import Call
from qa import review as qa_review
from qa.audit import Reader, may_read_call
from qa.models import CallOutcome, CallScore, Criterion, CriterionResult, Review
from recordings.models import Recording
from transcription import services as transcripts
from transcription.models import Transcript


@dataclass(frozen=True)
class CriterionRow:
    key: str
    label: str
    weight: float
    automatic: bool | None
    result: bool | None  # the reviewer's override, else the automatic result
    overridden: bool
    evidence: list[dict[str, Any]]
    compliance: bool


@dataclass
class ReviewView:
    score_id: int | None = None
    status: str | None = None
    automatic_score: float | None = None
    score: float | None = None
    compliance_flag: bool = False
    criteria: list[CriterionRow] = field(default_factory=list)
    comment: str | None = None
    finalized_at: datetime | None = None
    turns: list[dict[str, Any]] = field(default_factory=list)
    may_read_media: bool = False
    audio: list[dict[str, Any]] = field(default_factory=list)


def score_of(session: Session, call_id: int) -> CallScore | None:
    return session.scalars(
        select(CallScore).where(CallScore.call_id == call_id).order_by(CallScore.id.desc())
    ).first()


def scores_by_call(session: Session, call_ids: list[int]) -> dict[int, float]:
    if not call_ids:
        return {}
    rows = session.execute(
        select(CallScore.call_id, CallScore.score).where(CallScore.call_id.in_(call_ids))
    )
    return {call_id: score for call_id, score in rows}


def outcome_of(session: Session, call_id: int) -> CallOutcome | None:
    return session.scalars(select(CallOutcome).where(CallOutcome.call_id == call_id)).first()


def review_view(
    session: Session,
    practice_id: int,
    call: Call,
    reader: Reader,
    now: datetime,
    *,
    can_review: bool,
) -> ReviewView:
    """The scorecard results (with this reviewer's overrides), transcript and audio of a call.

    Reading the transcript writes an audit row; a reader who may not see media gets none.
    """
    view = ReviewView(may_read_media=may_read_call(session, reader.user_id, call))
    if view.may_read_media:
        transcript_id = session.scalars(
            select(Transcript.id)
            .where(Transcript.call_id == call.id)
            .order_by(Transcript.id.desc())
        ).first()
        if transcript_id is not None:
            read = transcripts.read_transcript(session, reader, transcript_id, now)
            view.turns = [
                {"speaker": t.speaker, "start_s": t.start_s, "end_s": t.end_s, "text": t.text}
                for t in read.turns
            ]
        view.audio = [
            {
                "id": r.id,
                "channels": r.channels,
                "duration_s": r.duration_s,
                "source": r.source.value,
                "stored": r.stored_path is not None,
            }
            for r in queries.recordings_of(session, practice_id, call.id)
        ]
    score = score_of(session, call.id)
    if score is None:
        return view
    view.score_id, view.status = score.id, score.status.value
    view.automatic_score, view.score = score.automatic_score, score.score
    view.compliance_flag = score.compliance_flag
    mine: Review | None = None
    if can_review:
        mine = session.scalars(
            select(Review).where(
                Review.call_score_id == score.id, Review.reviewer_id == reader.user_id
            )
        ).first()
    overrides = {o.criterion_id: o.met for o in mine.overrides} if mine is not None else {}
    if mine is not None:
        view.comment, view.finalized_at = mine.comment, mine.finalized_at
    rows = session.execute(
        select(Criterion, CriterionResult)
        .outerjoin(
            CriterionResult,
            (CriterionResult.criterion_id == Criterion.id)
            & (CriterionResult.call_score_id == score.id),
        )
        .where(Criterion.scorecard_id == score.scorecard_id)
        .order_by(Criterion.position)
    ).all()
    for criterion, result in rows:
        automatic = result.met if result is not None else None
        overridden = criterion.id in overrides
        view.criteria.append(
            CriterionRow(
                criterion.key,
                criterion.label,
                criterion.weight,
                automatic,
                overrides[criterion.id] if overridden else automatic,
                overridden,
                list(result.evidence) if result is not None else [],
                criterion.compliance,
            )
        )
    return view


def _score_in_practice(session: Session, practice_id: int, call_id: int) -> CallScore:
    queries.call_in_practice(session, practice_id, call_id)
    score = score_of(session, call_id)
    if score is None:
        raise NotFound("this call has not been scored")
    return score


def override(
    session: Session,
    practice_id: int,
    call_id: int,
    reviewer_id: int,
    key: str,
    met: bool,
    note: str | None,
    now: datetime,
) -> None:
    score = _score_in_practice(session, practice_id, call_id)
    qa_review.set_result(session, score.id, reviewer_id, key, met, now, comment=note)


def comment(
    session: Session, practice_id: int, call_id: int, reviewer_id: int, text: str, now: datetime
) -> None:
    score = _score_in_practice(session, practice_id, call_id)
    qa_review.comment(session, score.id, reviewer_id, text, now)


def finalize(
    session: Session, practice_id: int, call_id: int, reviewer_id: int, now: datetime
) -> float:
    score = _score_in_practice(session, practice_id, call_id)
    return qa_review.finalize(session, score.id, reviewer_id, now).score


def recording_in_practice(
    session: Session, practice_id: int, call_id: int, recording_id: int
) -> Recording:
    rec = session.get(Recording, recording_id)
    if rec is None or rec.practice_id != practice_id or rec.call_id != call_id:
        raise NotFound("no such recording")
    return rec
