"""QA: versioned scorecards, scores with evidence, reviews, call outcomes, and the read audit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db import Base, str_enum, utcnow


class CriterionKind(enum.StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class Expectation(enum.StrEnum):
    """Met when the phrase is said (``present``) or when it never is (``absent``)."""

    PRESENT = "present"
    ABSENT = "absent"


class Scorecard(Base):
    """One version of a practice's scorecard. A new version is a new row; old scores keep theirs."""

    __tablename__ = "qa_scorecards"
    __table_args__ = (UniqueConstraint("practice_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="scorecard", order_by="Criterion.position"
    )


class Criterion(Base):
    __tablename__ = "qa_criteria"
    __table_args__ = (UniqueConstraint("scorecard_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(
        ForeignKey("qa_scorecards.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column()
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column()
    kind: Mapped[CriterionKind] = mapped_column(str_enum(CriterionKind))
    # "coordinator", "patient" or "any".
    speaker: Mapped[str] = mapped_column(String(16), default="coordinator")
    expect: Mapped[Expectation] = mapped_column(str_enum(Expectation), default=Expectation.PRESENT)
    # Phrases may hold {practice}, {coordinator} and {patient} placeholders.
    phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    within_s: Mapped[float | None] = mapped_column()
    # A hit on this criterion raises the call's compliance flag (clinical advice).
    compliance: Mapped[bool] = mapped_column(default=False)

    scorecard: Mapped[Scorecard] = relationship(back_populates="criteria")


class ScoreStatus(enum.StrEnum):
    AUTOMATIC = "automatic"
    IN_REVIEW = "in_review"
    FINALIZED = "finalized"


class CallScore(Base):
    """A call scored against one scorecard version (automatically, then by reviewers)."""

    __tablename__ = "qa_call_scores"
    __table_args__ = (UniqueConstraint("transcript_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id"))
    coordinator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ScoreStatus] = mapped_column(str_enum(ScoreStatus))
    automatic_score: Mapped[float] = mapped_column()
    score: Mapped[float] = mapped_column()
    compliance_flag: Mapped[bool] = mapped_column(default=False)
    finalized_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finalized_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    results: Mapped[list[CriterionResult]] = relationship(back_populates="call_score")


class CriterionResult(Base):
    """The automatic judgement of one criterion, with the evidence a reviewer can jump to."""

    __tablename__ = "qa_criterion_results"
    __table_args__ = (UniqueConstraint("call_score_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_score_id: Mapped[int] = mapped_column(
        ForeignKey("qa_call_scores.id", ondelete="CASCADE"), index=True
    )
    criterion_id: Mapped[int] = mapped_column(ForeignKey("qa_criteria.id"))
    # None: not judged automatically (manual criteria wait for a reviewer).
    met: Mapped[bool | None] = mapped_column()
    # {"speaker", "start_s", "end_s", "text", "phrase"} of each match, or [] when none.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    call_score: Mapped[CallScore] = relationship(back_populates="results")


class Review(Base):
    """One reviewer's pass over a scored call: overrides, comment, finalized or not."""

    __tablename__ = "qa_reviews"
    __table_args__ = (UniqueConstraint("call_score_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_score_id: Mapped[int] = mapped_column(
        ForeignKey("qa_call_scores.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    comment: Mapped[str | None] = mapped_column(Text)
    finalized_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    overrides: Mapped[list[ReviewOverride]] = relationship(back_populates="review")


class ReviewOverride(Base):
    __tablename__ = "qa_review_overrides"
    __table_args__ = (UniqueConstraint("review_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("qa_reviews.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("qa_criteria.id"))
    met: Mapped[bool] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)

    review: Mapped[Review] = relationship(back_populates="overrides")


class Disposition(enum.StrEnum):
    BOOKED_CONSULTATION = "booked_consultation"
    BOOKED_TREATMENT = "booked_treatment"
    FOLLOW_UP = "follow_up"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"
    VOICEMAIL_LEFT = "voicemail_left"
    OTHER = "other"

    @property
    def booked(self) -> bool:
        return self in (Disposition.BOOKED_CONSULTATION, Disposition.BOOKED_TREATMENT)


class CallOutcome(Base):
    """How a call ended, from the coordinator; the transcript's suggestion; a QA mismatch flag."""

    __tablename__ = "call_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    disposition: Mapped[Disposition | None] = mapped_column(str_enum(Disposition))
    booked_for: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime | None] = mapped_column()
    suggested: Mapped[Disposition | None] = mapped_column(str_enum(Disposition))
    suggestion_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mismatch: Mapped[bool] = mapped_column(default=False)


class AuditEvent(Base):
    """Who read which recording or transcript, when, and from where. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # "recording.download", "recording.play", "transcript.view", ...
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column()
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
