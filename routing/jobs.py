"""Routing jobs: redirect a waiter to their coordinator, end a wrap-up, and the reconciler.

Each takes ids and is safe to run twice. The database is the source of truth: ``reconcile``
runs every few seconds (it schedules its own next run) and redoes whatever a lost job or a
silent browser left undone: expired reservations, ended wrap-ups, silent heartbeats, waiters
with a free coordinator, redirects never sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import REALTIME, enqueue, get_queue
from contact_center.runtime import current_settings
from contact_center.twilio import get_adapter
from routing import dialer_jobs, outbox, services
from routing.models import QueueEntry, QueueStatus
from routing.queue import connect_url

logger = logging.getLogger(__name__)

RECONCILE_JOB_ID = "routing-reconcile"


def redirect_waiter(entry_id: int) -> None:
    """Send the waiter of ``entry_id`` (still in Twilio's queue) to the coordinator reserved
    for them: a REST redirect of the live call to the connect URL. Safe to repeat: a redirect
    already sent, or an entry no longer assigned, is left alone."""
    with session_scope() as session:
        entry = session.get(QueueEntry, entry_id)
        if entry is None or entry.status is not QueueStatus.ASSIGNED:
            return
        if entry.redirected_at is not None:
            return
        call_sid = entry.call_sid
    # The connect URL rings whoever is reserved for the call then, so a repeat is harmless.
    get_adapter(current_settings()).redirect_call(call_sid, connect_url(entry_id))
    with session_scope() as session:
        entry = session.get_one(QueueEntry, entry_id)
        entry.redirected_at = entry.redirected_at or clock.now()
    logger.info("redirected waiter call_sid=%s entry=%s", call_sid, entry_id)


def end_wrap_up(user_id: int, until_iso: str) -> None:
    """Scheduled at the end of a coordinator's wrap-up; a no-op if they extended it or moved
    on (the reconciler ends extended wrap-ups when they are due)."""
    with session_scope() as session:
        services.end_wrap_up(session, user_id, clock.now())


def reconcile() -> dict[str, int]:
    """One sweep over what the database says is due. Returns counts (for logs and tests)."""
    options = services.RoutingOptions.from_settings(current_settings())
    now = clock.now()
    counts: dict[str, int] = {}
    with session_scope() as session:
        counts["offline"] = len(
            services.expire_silent_browsers(session, now, options.heartbeat_timeout_s)
        )
    with session_scope() as session:
        counts["expired"] = len(
            services.expire_reservations(session, now, options.reservation_timeout_s)
        )
    with session_scope() as session:
        counts["wrap_up_ended"] = len(services.end_due_wrap_ups(session, now))
    with session_scope() as session:
        counts["abandoned"] = services.close_abandoned_entries(session, now)
    with session_scope() as session:
        practice_ids = services.practices_with_waiters(session)
    assigned = 0
    for practice_id in practice_ids:
        with session_scope() as session:
            assigned += len(services.dispatch_practice(session, practice_id, now))
    counts["assigned"] = assigned
    with session_scope() as session:
        unsent = services.unsent_redirects(session)
    for entry_id in unsent:
        enqueue(
            current_settings(),
            redirect_waiter,
            entry_id,
            queue=REALTIME,
            job_id=f"redirect-waiter-{entry_id}",
        )
    counts["redirects"] = len(unsent)
    if any(counts.values()):
        logger.info("routing reconciled %s", counts)
    return counts


def reconcile_and_reschedule() -> None:
    """The periodic form of ``reconcile``: sweep, then schedule the next sweep."""
    try:
        reconcile()
    finally:
        schedule_reconciler(force=True)


def schedule_reconciler(*, force: bool = False) -> None:
    """Make sure one sweep is scheduled (``force``: the running sweep schedules its successor)."""
    settings = current_settings()
    q = get_queue(settings, REALTIME)
    if not force:
        existing = q.fetch_job(RECONCILE_JOB_ID)
        if existing is not None and existing.get_status(refresh=True) in (
            "queued",
            "scheduled",
            "started",
            "deferred",
        ):
            return
    every = services.RoutingOptions.from_settings(settings).reconcile_every_s
    q.enqueue_in(
        timedelta(seconds=every),
        reconcile_and_reschedule,
        job_id=RECONCILE_JOB_ID,
        job_timeout=60,
        result_ttl=60,
        failure_ttl=24 * 3600,
    )


def _schedule_end_of_wrap_up(user_id: int, until_iso: str) -> None:
    when = datetime.fromisoformat(until_iso)
    get_queue(current_settings(), REALTIME).enqueue_at(
        when,
        end_wrap_up,
        user_id,
        until_iso,
        job_id=f"end-wrap-up-{user_id}-{int(when.timestamp())}",
        job_timeout=30,
        result_ttl=600,
        failure_ttl=24 * 3600,
    )


def _run_note(kind: str, args: tuple[Any, ...]) -> None:
    settings = current_settings()
    if kind == outbox.REDIRECT_WAITER:
        enqueue(
            settings, redirect_waiter, *args, queue=REALTIME, job_id=f"redirect-waiter-{args[0]}"
        )
    elif kind == outbox.END_WRAP_UP:
        _schedule_end_of_wrap_up(*args)
    elif kind == outbox.KICK_RECONCILER:
        schedule_reconciler()
    elif kind == outbox.DIAL_ATTEMPT:
        practice_id, attempt_id, due_iso = args
        dialer_jobs.schedule_first_dial(
            settings, practice_id, attempt_id, datetime.fromisoformat(due_iso)
        )


def _after_commit(session: Session) -> None:
    for kind, args in outbox.take(session):
        try:
            _run_note(kind, args)
        except Exception:
            # The rows already say what is due; the reconciler redoes it when Redis is back.
            logger.exception("could not enqueue %s%s after commit", kind, args)


def install() -> None:
    """Turn routing's after-commit notes into jobs, for every session of this process."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback_soft)


def _after_rollback_soft(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        outbox.discard(session)
