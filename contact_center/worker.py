"""The RQ worker, built from the app factory: ``python -m contact_center.worker``.

Serves the queues in the order given (``realtime`` first, see contact_center.jobs) with RQ's
scheduler, which retries with intervals need. ``--simple`` runs jobs in the worker process (no
fork per job), which picks a job up in about 5 ms instead of about 10 ms: for ``realtime``.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker

from contact_center import create_app
from contact_center.jobs import ALL_QUEUES, DEFAULT, REALTIME, TRANSCRIPTION, enqueue, get_redis
from contact_center.runtime import current_settings

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="*", default=list(ALL_QUEUES))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs without forking")
    parser.add_argument(
        "--reconcile-every",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="enqueue the reconcilers this often (0: never); they re-enqueue what the database "
        "says is due, so a flushed Redis or a killed worker loses nothing",
    )
    args = parser.parse_args(argv)
    app = create_app()
    settings = current_settings()
    connection = get_redis(settings)
    if settings.sandbox_softphones:
        from contact_center.web.sandbox import ring_placed_calls

        ring_placed_calls()  # the sandbox demo: the dialer's calls ring the console
    if TRANSCRIPTION in args.queues:
        from transcription.jobs import prepare_worker

        # Load the speech engine once, now: a missing or corrupt model stops the worker here.
        logger.info("speech engine ready: %s", prepare_worker(settings))
    worker_class = SimpleWorker if args.simple else Worker
    if args.reconcile_every > 0 and not args.burst:
        _start_maintenance(args.reconcile_every)
    with app.app_context():
        worker = worker_class(
            [Queue(name, connection=connection) for name in args.queues], connection=connection
        )
        worker.work(burst=args.burst, with_scheduler=True)


def _maintenance(every_s: float) -> list[tuple[float, Callable[..., Any], str, str]]:
    """(period, job, queue, job id) of the periodic work: each job reads the database for what
    is due, so running it late or twice is harmless."""
    from appointments.jobs import reconcile_calendars, sync_all_busy
    from appointments.reminder_jobs import reconcile_reminders
    from contact_center.messaging.jobs import reconcile_texts
    from ivr.jobs import reconcile_text_backs
    from recordings.jobs import enqueue_retention, reconcile_downloads
    from routing import jobs as routing_jobs
    from routing.dialer_jobs import reconcile_due

    return [
        (every_s, routing_jobs.reconcile, REALTIME, "routing-reconcile"),
        (every_s, reconcile_due, REALTIME, "reconcile"),
        (every_s, reconcile_texts, REALTIME, "texts-reconcile"),
        (every_s, reconcile_text_backs, REALTIME, "text-back-reconcile"),
        (every_s, reconcile_reminders, REALTIME, "reminders-reconcile"),
        (max(every_s, 300.0), reconcile_downloads, DEFAULT, "recordings-reconcile"),
        (max(every_s, 3600.0), enqueue_retention, DEFAULT, "recordings-retention"),
        (max(every_s, 60.0), reconcile_calendars, DEFAULT, "calendar-reconcile"),
        (max(every_s, 300.0), sync_all_busy, DEFAULT, "calendar-busy"),
    ]


def _start_maintenance(every_s: float) -> None:
    """A ticker in this process (not in Redis, so a flush cannot lose it) that enqueues the
    periodic jobs; fixed job ids keep several workers from piling up runs."""
    settings = current_settings()
    schedule = _maintenance(every_s)
    last_run = [0.0] * len(schedule)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(min(every_s, 5.0)):
            now = time.monotonic()
            for i, (period, job, queue, job_id) in enumerate(schedule):
                if now - last_run[i] < period:
                    continue
                last_run[i] = now
                try:
                    enqueue(settings, job, queue=queue, job_id=job_id, retries=0)
                except RedisError:  # Redis away: the next tick tries again
                    logger.exception("could not enqueue %s", job_id)

    threading.Thread(target=tick, name="maintenance", daemon=True).start()


if __name__ == "__main__":
    main()
