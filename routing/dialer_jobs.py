"""Dialer jobs on the ``dialer`` queue. Each takes ids, is re-entrant, and makes at most one
REST request per claim; the database decides, Redis only says what to look at next.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, after_commit
from contact_center.runtime import current_settings
from contact_center.twilio import get_adapter
from routing import dialer

logger = logging.getLogger(__name__)

# How many attempts one ``dial_next`` run may start before it yields to other jobs.
BATCH = 25


def schedule_attempt(session: Session, attempt_id: int, due: datetime | None = None) -> None:
    """Dial an attempt once ``session`` commits: now, or at its due time."""
    if due is not None and due > clock.now():
        after_commit(
            session,
            dial_attempt,
            attempt_id,
            queue=REALTIME,
            job_id=f"dial-{attempt_id}-at",
            at=due,
        )
    else:
        after_commit(session, dial_attempt, attempt_id, queue=REALTIME, job_id=f"dial-{attempt_id}")


def schedule_practice(session: Session, practice_id: int) -> None:
    """A coordinator may have become free, or an attempt came due: dial the practice's due
    attempts once ``session`` commits. Coalesced: a burst of requests is one waiting job (plus
    one after a running one).
    """
    after_commit(
        session,
        dial_next,
        practice_id,
        queue=REALTIME,
        job_id=f"dial-next-{practice_id}",
    )


def schedule_first_dial(
    session: Session, practice_id: int, attempt_id: int, due: datetime | None
) -> None:
    """A new callback task's first attempt: at its due time, or now through the practice's
    ``dial_next`` (oldest first, and a burst of leads does not become a burst of dial jobs
    that mostly find every coordinator busy)."""
    if due is not None and due > clock.now():
        schedule_attempt(session, attempt_id, due)
    else:
        schedule_practice(session, practice_id)


def _dial(attempt_id: int) -> dialer.DialOrder | dialer.Wait | None:
    """Claim, ring the coordinator, record the leg. Between the claim's commit and the REST
    request a crash leaves the attempt ``claimed``: the reconciler puts it back."""
    settings = current_settings()
    with session_scope() as session:
        order = dialer.claim(session, attempt_id, clock.now())
    if not isinstance(order, dialer.DialOrder):
        return order
    try:
        call_sid = get_adapter(settings).create_call(
            to=order.to,
            from_=order.from_,
            url=order.url,
            status_callback=order.status_callback,
            timeout=settings.ring_timeout_s,
        )
    except Exception:
        with session_scope() as session:
            dialer.unclaim(session, order.attempt_id, order.token, clock.now())
        raise
    with session_scope() as session:
        dialer.mark_dialed(session, order.attempt_id, order.token, call_sid, clock.now())
    logger.info("dialer rang %s attempt=%s call_sid=%s", order.to, attempt_id, call_sid)
    return order


def dial_attempt(attempt_id: int) -> None:
    """Dial one attempt if it is due and a coordinator is free (safe to run any number of times)."""
    outcome = _dial(attempt_id)
    if isinstance(outcome, dialer.Wait) and outcome.until is not None:
        with session_scope() as session:
            schedule_attempt(session, attempt_id, outcome.until)


def dial_next(practice_id: int) -> int:
    """Dial the practice's due attempts, oldest first, while coordinators are free."""
    dialed = 0
    skip: list[int] = []
    for _ in range(BATCH):
        with session_scope() as session:
            attempt_id = dialer.next_due_attempt(session, practice_id, clock.now(), tuple(skip))
        if attempt_id is None:
            break
        outcome = _dial(attempt_id)
        if isinstance(outcome, dialer.DialOrder):
            dialed += 1
        elif isinstance(outcome, dialer.Wait) and outcome.until is None:
            break  # nobody free (or an inbound caller waits): a release brings us back
        else:
            skip.append(attempt_id)  # moved out of quiet hours, canceled or held elsewhere
    else:
        with session_scope() as session:  # more to do: yield, then continue
            schedule_practice(session, practice_id)
    return dialed


def reconcile_due() -> None:
    """The periodic reconciler: re-enqueue what the database says is due (see reconcile.py)."""
    from routing import reconcile

    with session_scope() as session:
        plan = reconcile.reconcile(session, clock.now())
        for practice_id in plan.practices:
            schedule_practice(session, practice_id)
    logger.info("reconciled %s", plan)
