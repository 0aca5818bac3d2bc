"""Routing jobs: redirect a waiter to their coordinator, end a wrap-up, and the reconciler.

Each takes ids and is safe to run twice. The database is the source of truth: ``reconcile``
runs every few seconds (contact_center.schedule) and redoes whatever a lost job or a
silent browser left undone: expired reservations, ended wrap-ups, silent heartbeats, waiters
with a free coordinator, redirects never sent.
"""

from __future__ import annotations

import logging

from contact_center import clock
from contact_center.db import session_scope
from contact_center.runtime import current_settings
from contact_center.twilio import get_adapter
from routing import outbox, services
from routing.models import QueueEntry, QueueStatus
from routing.queue import connect_url

logger = logging.getLogger(__name__)


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
            outbox.redirect_waiter(session, entry_id)
    counts["redirects"] = len(unsent)
    if any(counts.values()):
        logger.info("routing reconciled %s", counts)
    return counts
