"""Job plumbing: queue names, the one ``enqueue`` helper, Redis connections, the worker.

Jobs take ids and primitives. Enqueue only after the transaction that wrote the rows a job
needs has committed. Unexpected exceptions propagate so RQ records and retries them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job

from contact_center.settings import EMBEDDED_REDIS, Settings

logger = logging.getLogger(__name__)

# Queue names, in the order a worker serves them. ``realtime`` is everything a patient or a
# coordinator is waiting on: texts, callback dials, queue redirects, wrap-up ends and the
# reconcilers. It is one first-in-first-out line, so neither texts nor dials can starve the
# other in a burst of leads; dials are coalesced into one waiting ``dial_next`` per practice,
# so a burst of leads is a burst of texts and a handful of dial jobs. Heavy work comes last.
REALTIME = "realtime"
DEFAULT = "default"
TRANSCRIPTION = "transcription"
ALL_QUEUES = (REALTIME, DEFAULT, TRANSCRIPTION)

_connections: dict[str, Redis] = {}


@contextmanager
def left_to_reconciler(what: str) -> Iterator[None]:
    """For enqueues after a commit whose rows a reconciler re-reads: if Redis is away, log it
    and go on (the request already succeeded; the reconciler enqueues the work later)."""
    try:
        yield
    except RedisError:
        logger.warning("redis unavailable; %s left to the reconciler", what, exc_info=True)


def redis_url(settings: Settings) -> str:
    """The Redis URL, starting the embedded Redis under ./var when none is configured."""
    if settings.redis_url == EMBEDDED_REDIS:
        from contact_center.embedded import ensure_embedded_redis

        return ensure_embedded_redis(settings.var_dir)
    return settings.redis_url


def get_redis(settings: Settings) -> Redis:
    url = redis_url(settings)
    if url not in _connections:
        _connections[url] = Redis.from_url(url)
    return _connections[url]


def get_queue(settings: Settings, name: str = DEFAULT) -> Queue:
    return Queue(name, connection=get_redis(settings))


def enqueue(
    settings: Settings,
    func: Callable[..., Any],
    *args: Any,
    queue: str = DEFAULT,
    job_id: str | None = None,
    retries: int = 3,
    backoff: tuple[int, ...] = (10, 60, 300),
    timeout: int = 60,
    rerun_if_running: bool = True,
) -> Job:
    """Put one job on a queue with retries and backoff; a ``job_id`` makes re-enqueueing a no-op
    while the same job is still waiting.

    ``rerun_if_running``: a request made while the job runs may come after it read the
    database, and a job "running" in Redis may belong to a worker that was killed; it gets one
    follow-up run (``<job_id>-again``), itself coalesced while it waits. Jobs are idempotent,
    so a follow-up with nothing left to do costs one empty run.
    """
    q = get_queue(settings, queue)
    if job_id is not None:
        existing = q.fetch_job(job_id)
        status = existing.get_status(refresh=True) if existing is not None else None
        if status == "started" and rerun_if_running:
            job_id = f"{job_id}-again"
            existing = q.fetch_job(job_id)
            status = existing.get_status(refresh=True) if existing is not None else None
        if existing is not None and status in ("queued", "scheduled", "started", "deferred"):
            return existing
    job = q.enqueue_call(
        func,
        args=args,
        job_id=job_id,
        timeout=timeout,
        retry=Retry(max=retries, interval=list(backoff)) if retries else None,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    logger.info("enqueued job_id=%s func=%s queue=%s", job.id, func.__name__, queue)
    return job


def enqueue_at(
    settings: Settings,
    when: datetime,
    func: Callable[..., Any],
    *args: Any,
    queue: str = DEFAULT,
    job_id: str | None = None,
    timeout: int = 60,
) -> Job:
    """Run a job at ``when`` (UTC) through the worker's scheduler; at once if ``when`` has come.

    Scheduled jobs are only a fast path: the database holds what is due, and the periodic
    reconciler re-enqueues it if Redis loses the schedule. Use a ``job_id`` distinct from the
    immediate job's, so a pending schedule never swallows an immediate run.
    """
    from contact_center import clock

    if when <= clock.now():
        return enqueue(settings, func, *args, queue=queue, job_id=job_id, timeout=timeout)
    job = get_queue(settings, queue).enqueue_at(
        when,
        func,
        *args,
        job_id=job_id,
        job_timeout=timeout,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    logger.info("scheduled job_id=%s func=%s queue=%s at=%s", job.id, func.__name__, queue, when)
    return job
