"""QA review: a QA lead sets any criterion's result, comments and finalizes; calibration.

Each reviewer has their own review of a scored call. A reviewer's result for a criterion is their
override when they set one, else the automatic result. Finalizing makes that reviewer's results
the call's score. Two reviewers on one call give an agreement figure over the criteria both
judged: the share they agree on, and Cohen's kappa (agreement beyond chance).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import Forbidden, InvalidInput, NotFound
from contact_center.models import Membership, Role
from qa.models import CallScore, Criterion, CriterionResult, Review, ReviewOverride, ScoreStatus
from qa.scoring import CriterionSpec, weighted_score

REVIEWER_ROLES = (Role.QA_LEAD, Role.ADMIN)


def _score(session: Session, call_score_id: int) -> CallScore:
    score = session.get(CallScore, call_score_id)
    if score is None:
        raise NotFound(f"no scored call {call_score_id}")
    return score


def _require_reviewer(session: Session, score: CallScore, reviewer_id: int) -> None:
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == reviewer_id, Membership.practice_id == score.practice_id
        )
    )
    if role not in REVIEWER_ROLES:
        raise Forbidden("only the practice's QA leads and admins review calls")


def review_of(session: Session, call_score_id: int, reviewer_id: int, now: datetime) -> Review:
    """The reviewer's review of a scored call, started on first use. Raises Forbidden."""
    score = _score(session, call_score_id)
    _require_reviewer(session, score, reviewer_id)
    review = session.scalars(
        select(Review).where(
            Review.call_score_id == call_score_id, Review.reviewer_id == reviewer_id
        )
    ).one_or_none()
    if review is None:
        review = Review(
            call_score_id=call_score_id, reviewer_id=reviewer_id, created_at=now, updated_at=now
        )
        session.add(review)
        session.flush()
        if score.status is ScoreStatus.AUTOMATIC:
            score.status = ScoreStatus.IN_REVIEW
    return review


def set_result(
    session: Session,
    call_score_id: int,
    reviewer_id: int,
    criterion_key: str,
    met: bool,
    now: datetime,
    comment: str | None = None,
) -> ReviewOverride:
    """Set one criterion's result (any criterion, automatic or manual) in the reviewer's review."""
    review = review_of(session, call_score_id, reviewer_id, now)
    score = _score(session, call_score_id)
    criterion = session.scalars(
        select(Criterion).where(
            Criterion.scorecard_id == score.scorecard_id, Criterion.key == criterion_key
        )
    ).one_or_none()
    if criterion is None:
        raise InvalidInput(f"no criterion {criterion_key!r} on this scorecard", "criterion")
    override = session.scalars(
        select(ReviewOverride).where(
            ReviewOverride.review_id == review.id, ReviewOverride.criterion_id == criterion.id
        )
    ).one_or_none()
    if override is None:
        override = ReviewOverride(review_id=review.id, criterion_id=criterion.id, met=met)
        session.add(override)
    override.met = met
    override.comment = comment
    review.updated_at = now
    session.flush()
    return override


def comment(
    session: Session, call_score_id: int, reviewer_id: int, text: str, now: datetime
) -> Review:
    review = review_of(session, call_score_id, reviewer_id, now)
    review.comment = text.strip() or None
    review.updated_at = now
    return review


def results_of(session: Session, review: Review) -> dict[str, bool | None]:
    """The reviewer's result per criterion key: their override, else the automatic one."""
    rows = session.execute(
        select(Criterion.key, Criterion.id, CriterionResult.met)
        .join(CriterionResult, CriterionResult.criterion_id == Criterion.id)
        .where(CriterionResult.call_score_id == review.call_score_id)
        .order_by(Criterion.position)
    ).all()
    overrides = {
        o.criterion_id: o.met
        for o in session.scalars(
            select(ReviewOverride).where(ReviewOverride.review_id == review.id)
        )
    }
    return {key: overrides.get(cid, met) for key, cid, met in rows}


def finalize(session: Session, call_score_id: int, reviewer_id: int, now: datetime) -> CallScore:
    """Make this reviewer's results the call's score (weighted over judged criteria)."""
    review = review_of(session, call_score_id, reviewer_id, now)
    score = _score(session, call_score_id)
    criteria = session.scalars(
        select(Criterion)
        .where(Criterion.scorecard_id == score.scorecard_id)
        .order_by(Criterion.position)
    ).all()
    results = results_of(session, review)
    specs = [CriterionSpec(c.key, c.label, c.weight) for c in criteria]
    score.score = weighted_score(specs, [results.get(c.key) for c in criteria])
    score.status = ScoreStatus.FINALIZED
    score.finalized_by_id = reviewer_id
    score.finalized_at = now
    review.finalized_at = now
    review.updated_at = now
    session.flush()
    return score


@dataclass(frozen=True)
class Agreement:
    """How far reviewers of one call agree (calibration)."""

    reviewers: tuple[int, ...]
    compared: int
    agreed: int
    percent: float
    kappa: float | None
    disagreements: tuple[str, ...]


def agreement(session: Session, call_score_id: int) -> Agreement:
    """Agreement between the reviewers of a call (pairs pooled when more than two).

    Raises InvalidInput with fewer than two reviews.
    """
    reviews = session.scalars(
        select(Review).where(Review.call_score_id == call_score_id).order_by(Review.id)
    ).all()
    if len(reviews) < 2:
        raise InvalidInput("agreement needs two reviewers on the call", "reviews")
    results = [results_of(session, r) for r in reviews]
    pairs: list[tuple[bool, bool]] = []
    disagreements: list[str] = []
    for a, b in combinations(results, 2):
        for key, met_a in a.items():
            met_b = b.get(key)
            if met_a is None or met_b is None:
                continue
            pairs.append((met_a, met_b))
            if met_a != met_b and key not in disagreements:
                disagreements.append(key)
    agreed = sum(1 for x, y in pairs if x == y)
    percent = round(100.0 * agreed / len(pairs), 1) if pairs else 0.0
    return Agreement(
        tuple(r.reviewer_id for r in reviews),
        len(pairs),
        agreed,
        percent,
        _kappa(pairs),
        tuple(disagreements),
    )


def _kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(1 for x, y in pairs if x == y) / n
    yes_a = sum(1 for x, _ in pairs if x) / n
    yes_b = sum(1 for _, y in pairs if y) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return round((observed - expected) / (1 - expected), 3)
