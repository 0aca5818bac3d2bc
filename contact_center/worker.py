"""The RQ worker, built from the app factory: ``python -m contact_center.worker``.

Serves the queues in priority order (speed-to-lead dialer first) with RQ's scheduler, which
retries with intervals need. ``--simple`` runs jobs in the worker process (no fork per job),
which picks a job up in about 5 ms instead of about 10 ms: for the latency-critical queue.
"""

from __future__ import annotations

import argparse

from rq import Queue, SimpleWorker, Worker

from contact_center import create_app
from contact_center.jobs import ALL_QUEUES, get_redis
from contact_center.runtime import current_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="*", default=list(ALL_QUEUES))
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs without forking")
    parser.add_argument(
        "--reconcile-every", type=float, default=15.0, metavar="SECONDS",
        help="enqueue the reconciler this often (0: never); it re-enqueues what the database "
        "says is due, so a flushed Redis or a killed worker loses nothing",
    )
    args = parser.parse_args(argv)
    app = create_app()
    connection = get_redis(current_settings())
    worker_class = SimpleWorker if args.simple else Worker
    if args.reconcile_every > 0 and not args.burst:
        _start_reconciler(args.reconcile_every)
    with app.app_context():
        worker = worker_class(
            [Queue(name, connection=connection) for name in args.queues], connection=connection
        )
        worker.work(burst=args.burst, with_scheduler=True)


def _start_reconciler(every_s: float) -> None:
    """A ticker in this process (not in Redis, so a flush cannot lose it) that enqueues the
    reconciler; its fixed job id keeps several workers from piling up runs."""
    import logging
    import threading

    from contact_center.jobs import DIALER, enqueue
    from routing.dialer_jobs import reconcile_due

    settings = current_settings()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every_s):
            try:
                enqueue(settings, reconcile_due, queue=DIALER, job_id="reconcile", retries=0)
            except Exception:  # Redis away: the next tick tries again
                logging.getLogger(__name__).exception("could not enqueue the reconciler")

    threading.Thread(target=tick, name="reconciler", daemon=True).start()


if __name__ == "__main__":
    main()
