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

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker

from contact_center import create_app
from contact_center.jobs import ALL_QUEUES, TRANSCRIPTION, enqueue, get_redis
from contact_center.runtime import current_settings
from contact_center.schedule import SCHEDULE

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


def _start_maintenance(every_s: float) -> None:
    """A ticker in this process (not in Redis, so a flush cannot lose it) that enqueues the
    periodic jobs of ``contact_center.schedule.SCHEDULE``; their unique job ids keep several
    workers from piling up runs."""
    settings = current_settings()
    last_run = [0.0] * len(SCHEDULE)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(min(every_s, 5.0)):
            now = time.monotonic()
            for i, entry in enumerate(SCHEDULE):
                if now - last_run[i] < entry.period(every_s):
                    continue
                last_run[i] = now
                try:
                    enqueue(
                        settings,
                        entry.func,
                        queue=entry.queue,
                        job_id=entry.job_id,
                        retries=0,
                        rerun_if_running=False,
                    )
                except RedisError:  # Redis away: the next tick tries again
                    logger.exception("could not enqueue %s", entry.job_id)

    threading.Thread(target=tick, name="maintenance", daemon=True).start()


if __name__ == "__main__":
    main()
