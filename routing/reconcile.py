"""The reconciler: the database says what must happen; this finds what Redis forgot.

Run periodically by the worker (and safe to run any time, any number of times):
- attempts left ``claimed`` by a worker that died before or during the REST request, or left
  ``ringing`` with no status callback for too long, go back to ``scheduled`` (the coordinator
  is released, the same attempt number is dialed again: a leg left over from the dead claim
  carries an old token and is refused at bridge time, so the patient is dialed once);
- practices with due attempts get a ``dial_next``;
- (texts: contact_center.messaging.jobs.reconcile_texts; text-backs: ivr.jobs);
- SLA breaches are detected (and managers alerted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing import dialer, sla
from routing.dialer_models import AttemptState, CallbackAttempt

logger = logging.getLogger(__name__)

# Longer than the dial job's timeout: a claim this old belongs to a dead worker.
STALE_CLAIM = timedelta(minutes=2)
# A coordinator leg with no final status callback after this long is given up on.
STALE_RINGING = timedelta(minutes=10)


@dataclass
class Plan:
    practices: list[int] = field(default_factory=list)
    reset_attempts: list[int] = field(default_factory=list)
    breaches: list[int] = field(default_factory=list)


def reset_stale_attempts(session: Session, now: datetime) -> list[int]:
    stale = session.scalars(
        select(CallbackAttempt).where(
            (
                (CallbackAttempt.state == AttemptState.CLAIMED)
                & (CallbackAttempt.claimed_at < now - STALE_CLAIM)
            )
            | (
                (CallbackAttempt.state == AttemptState.RINGING)
                & (CallbackAttempt.dialed_at < now - STALE_RINGING)
            )
        )
    ).all()
    reset = []
    for attempt in stale:
        if attempt.token and dialer.unclaim(session, attempt.id, attempt.token, now):
            logger.warning("reset stale dial attempt=%s task=%s", attempt.id, attempt.task_id)
            reset.append(attempt.id)
    return reset


def practices_with_due_attempts(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(CallbackAttempt.practice_id)
            .where(CallbackAttempt.state == AttemptState.SCHEDULED, CallbackAttempt.due_at <= now)
            .distinct()
        )
    )


def reconcile(session: Session, now: datetime) -> Plan:
    """Repair what is stale and list what is due (the job enqueues it after the commit)."""
    plan = Plan()
    plan.reset_attempts = reset_stale_attempts(session, now)
    plan.breaches = [b.task_id for b in sla.detect_breaches(session, now)]
    plan.practices = practices_with_due_attempts(session, now)
    return plan
