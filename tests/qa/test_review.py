"""Scores in the database: review override and finalize, agreement, outcomes, audited reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.errors import Forbidden, InvalidInput
from contact_center.models import Patient, Practice, Role, User
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator
from ivr.models import Call, CallEvent
from qa import outcomes, review
from qa.audit import Reader, audit_trail
from qa.jobs import score_transcript
from qa.models import CallScore, CriterionResult, Disposition, ScoreStatus
from qa.scorecards import DEFAULT_CRITERIA, current_scorecard, publish_scorecard
from qa.services import coordinator_feedback
from recordings import services as recordings
from tests.factories import make_coordinator, make_practice
from tests.qa.test_scoring import GOOD_CALL, turn
from transcription import services as transcripts
from transcription.turns import Turn


def scored_call(
    session: Session,
    twilio: TwilioSimulator,
    turns: Sequence[Turn] = GOOD_CALL,
) -> tuple[CallScore, Practice, User]:
    practice = make_practice(session, name="Park Avenue Skin Center")
    coordinator = make_coordinator(session, practice, "emily")
    session.get_one(User, coordinator.id).name = "Emily Stone"
    sim = twilio.call(
        "+13105550142",
        practice.phone_number,
        Caller(answers=[Answer(digits="1")], dials=[DialPlan()]),
    )
    rec = recordings.recording_by_sid(session, sim.recordings[0]["RecordingSid"])
    call = session.get_one(Call, rec.call_id)
    session.get_one(Patient, call.patient_id).first_name = "Karen"
    session.flush()
    transcript = transcripts.store_transcript(
        session,
        transcripts.RecognizedCall(rec.id, call.id, practice.id, "pocketsphinx", 40.0, 8.0, turns),
        clock.now(),
    )
    score_transcript(transcript.id)
    score_transcript(transcript.id)  # idempotent
    score = session.scalars(select(CallScore).where(CallScore.transcript_id == transcript.id)).one()
    return score, practice, coordinator


def test_scoring_job_stores_results_with_evidence_and_flags_clinical_advice(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    advice = [*GOOD_CALL, turn("coordinator", 40.0, "you should take ibuprofen first")]
    score, _, coordinator = scored_call(session, twilio, advice)
    assert score.status is ScoreStatus.AUTOMATIC and score.compliance_flag
    assert score.coordinator_id == coordinator.id and score.score == 85.0
    rows = session.scalars(
        select(CriterionResult).where(CriterionResult.call_score_id == score.id)
    ).all()
    assert len(rows) == len(DEFAULT_CRITERIA)
    event = session.scalars(
        select(CallEvent).where(CallEvent.call_id == score.call_id, CallEvent.kind == "compliance")
    ).one()
    assert event.detail["problem"] == "clinical_advice"
    assert event.detail["evidence"][0]["speaker"] == "coordinator"


def test_review_override_finalize_and_two_reviewer_agreement(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    score, practice, coordinator = scored_call(session, twilio)
    lead = make_coordinator(session, practice, "lead", role=Role.QA_LEAD)
    admin = make_coordinator(session, practice, "admin", role=Role.ADMIN)
    now = clock.now()

    # The coordinator did disclose the recording (the recognizer missed it): the lead says so.
    review.set_result(
        session,
        score.id,
        lead.id,
        "recording_disclosure",
        True,
        now,
        comment="said at 0:05, recognizer missed it",
    )
    review.comment(session, score.id, lead.id, "Great call, keep the warm close.", now)
    assert score.status is ScoreStatus.IN_REVIEW
    finalized = review.finalize(session, score.id, lead.id, now)
    assert finalized.score == 100.0 and finalized.status is ScoreStatus.FINALIZED
    assert finalized.automatic_score == 95.0 and finalized.finalized_by_id == lead.id

    # A second reviewer disagrees on two criteria: 9 of 11 agree.
    review.set_result(session, score.id, admin.id, "warm_close", False, now)
    review.set_result(session, score.id, admin.id, "asked_goal", False, now)
    figure = review.agreement(session, score.id)
    assert figure.reviewers == (lead.id, admin.id) and figure.compared == 11
    assert figure.agreed == 8 and figure.percent == pytest.approx(72.7)
    assert set(figure.disagreements) == {"recording_disclosure", "warm_close", "asked_goal"}
    assert figure.kappa is not None and figure.kappa < 0.5

    with pytest.raises(Forbidden):
        review.set_result(session, score.id, coordinator.id, "warm_close", True, now)
    with pytest.raises(InvalidInput):
        review.set_result(session, score.id, lead.id, "no_such_criterion", True, now)

    feedback = coordinator_feedback(session, coordinator.id)
    assert [(f.call_score_id, f.score, f.comments) for f in feedback] == [
        (score.id, 100.0, ("Great call, keep the warm close.",))
    ]


def test_agreement_needs_two_reviewers(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    score, practice, _ = scored_call(session, twilio)
    lead = make_coordinator(session, practice, "lead", role=Role.QA_LEAD)
    review.finalize(session, score.id, lead.id, clock.now())
    with pytest.raises(InvalidInput):
        review.agreement(session, score.id)


def test_outcome_suggested_from_the_transcript_and_mismatch_flagged(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    booked = [
        *GOOD_CALL,
        turn("coordinator", 40.0, "perfect i have you down for a consultation on monday"),
    ]
    score, _, coordinator = scored_call(session, twilio, booked)
    outcome = outcomes.set_outcome(
        session, score.call_id, coordinator.id, Disposition.NOT_INTERESTED, clock.now()
    )
    assert outcome.suggested is Disposition.BOOKED_CONSULTATION and outcome.mismatch
    assert outcome.suggestion_evidence[0]["matched"] == "i have you down for"
    assert outcomes.mismatched_outcomes(session, outcome.practice_id) == [outcome]
    with pytest.raises(InvalidInput, match="date"):
        outcomes.set_outcome(
            session, score.call_id, coordinator.id, Disposition.BOOKED_CONSULTATION, clock.now()
        )
    outcome = outcomes.set_outcome(
        session,
        score.call_id,
        coordinator.id,
        "booked_consultation",
        clock.now(),
        booked_for=clock.now() + timedelta(days=3),
    )
    assert outcome.mismatch is False
    assert (
        outcomes.suggest_disposition([turn("patient", 1, "sorry wrong number")]).disposition
        is Disposition.WRONG_NUMBER
    )
    assert outcomes.suggest_disposition(GOOD_CALL).disposition is None


def test_reading_a_transcript_is_audited(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    score, practice, coordinator = scored_call(session, twilio)
    lead = make_coordinator(session, practice, "lead", role=Role.QA_LEAD)
    outsider = make_coordinator(session, make_practice(session), "outsider", role=Role.ADMIN)
    now = clock.now()
    view = transcripts.read_transcript(
        session, Reader(lead.id, "203.0.113.7", "Safari"), score.transcript_id, now
    )
    assert [t.speaker for t in view.turns][:3] == ["coordinator", "patient", "coordinator"]
    assert view.turns[0].words[0].text == "good"
    transcripts.read_transcript(
        session, Reader(coordinator.id, "198.51.100.2"), score.transcript_id, now
    )
    with pytest.raises(Forbidden):
        transcripts.read_transcript(session, Reader(outsider.id), score.transcript_id, now)
    trail = audit_trail(session, practice.id, score.call_id)
    assert sorted((e.user_id, e.action, e.object_id, e.ip_address) for e in trail) == sorted(
        [
            (lead.id, "transcript.view", score.transcript_id, "203.0.113.7"),
            (coordinator.id, "transcript.view", score.transcript_id, "198.51.100.2"),
        ]
    )


def test_scorecards_are_versioned_and_scores_keep_their_version(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    score, practice, _ = scored_call(session, twilio)
    first = current_scorecard(session, practice.id, clock.now())
    assert first.version == 1 and score.scorecard_id == first.id
    second = publish_scorecard(session, practice.id, DEFAULT_CRITERIA[:3], clock.now())
    assert second.version == 2 and len(second.criteria) == 3
    assert current_scorecard(session, practice.id, clock.now()).id == second.id
    assert session.get_one(CallScore, score.id).scorecard_id == first.id
