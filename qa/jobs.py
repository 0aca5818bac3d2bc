"""QA jobs: score a transcript once it is stored (safe to run twice)."""

from __future__ import annotations

import logging

from contact_center import clock
from contact_center.db import session_scope
from qa import services

logger = logging.getLogger(__name__)


def score_transcript(transcript_id: int) -> float:
    """Score a transcript against its practice's current scorecard; returns the score."""
    with session_scope() as session:
        score = services.score_transcript(session, transcript_id, clock.now())
        logger.info(
            "scored transcript_id=%s call_id=%s score=%.1f compliance=%s",
            transcript_id,
            score.call_id,
            score.score,
            score.compliance_flag,
        )
        return score.score
