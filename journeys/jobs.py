"""Journey jobs: start the journeys an appointment change begins, run a due step, and the
periodic reconciler that finds both in the database (so lost Redis loses nothing)."""

from __future__ import annotations

import logging

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import DEFAULT, after_commit
from journeys import runner, services

logger = logging.getLogger(__name__)


def start_journeys(change_id: int) -> None:
    """Turn one appointment change into step runs (``appointments.services.appointment_changed``
    enqueues this after every change; only fulfilled and no-show start anything). Safe twice."""
    with session_scope() as session:
        services.start_for_change(session, change_id, clock.now())


def run_step(run_id: int) -> None:
    """Run one due step. Safe twice: the second finds it done (or locked) and does nothing."""
    with session_scope() as session:
        runner.run_step(session, run_id, clock.now())


def reconcile_journeys() -> None:
    """The periodic reconciler: changes whose start job was lost are started here, and every
    due step run gets a ``run_step`` job (unique per run)."""
    now = clock.now()
    with session_scope() as session:
        started = services.unstarted_changes(session, now)
        for change_id in started:
            services.start_for_change(session, change_id, now)
    with session_scope() as session:
        due = services.due_runs(session, now)
        for run_id in due:
            after_commit(
                session,
                run_step,
                run_id,
                queue=DEFAULT,
                # A run "started" in Redis may belong to a killed worker: one follow-up run
                # (enqueue's rerun_if_running) finds it done, or does it.
                job_id=f"journey-run-{run_id}",
            )
    if started or due:
        logger.info("journeys reconciled started=%s due=%s", started, due)
