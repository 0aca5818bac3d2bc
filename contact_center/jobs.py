"""Job plumbing: queue names, ``after_commit`` and the one ``enqueue`` helper, Redis connections.

Jobs take ids and primitives. Work that follows a write starts with ``after_commit(session, job,
*ids)``: it runs only once the transaction commits, and a failed enqueue then is logged and left
to the reconcilers (contact_center.schedule), never reported as a failure of what was saved.
Unexpected exceptions inside jobs propagate so RQ records and retries them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

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
# Per process: gunicorn.conf.py's worker_connections (1000) plus room for requests in flight.
REDIS_MAX_CONNECTIONS = 2000

# A job: the function, or its dotted path ("routing.jobs.redirect_waiter") where the code that
# starts it cannot import it (a service that its own feature's jobs module imports).
JobRef = Callable[..., Any] | str


def job_name(func: JobRef) -> str:
    return func if isinstance(func, str) else func.__name__


@contextmanager
def left_to_reconciler(what: str) -> Iterator[None]:
    """Superseded by ``after_commit`` (use that): kept so code written against it still runs.
    If Redis is away, log it and go on (the reconciler enqueues the work later)."""
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
        # Every open console's event stream holds a pub/sub connection from this pool all day;
        # redis-py 8 caps a pool at 100 by default, which made the 101st console's stream a 500.
        _connections[url] = Redis.from_url(url, max_connections=REDIS_MAX_CONNECTIONS)
    return _connections[url]


def get_queue(settings: Settings, name: str = DEFAULT) -> Queue:
    return Queue(name, connection=get_redis(settings))


def enqueue(
    settings: Settings,
    func: JobRef,
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
    retry = Retry(max=retries, interval=list(backoff)) if retries else None

    def put(jid: str | None) -> Job:
        return q.enqueue_call(
            func,  # type: ignore[type-var]  # RQ takes a function or its dotted path
            args=args,
            job_id=jid,
            timeout=timeout,
            retry=retry,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            unique=jid is not None,
        )

    job = put(None) if job_id is None else _put_unique(q, job_id, put, rerun_if_running)
    logger.info("enqueued job_id=%s func=%s queue=%s", job.id, job_name(func), queue)
    return job


_WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
_AGAIN = "-again"


def _put_unique(q: Queue, job_id: str, put: Callable[[str], Job], rerun_if_running: bool) -> Job:
    """RQ's unique enqueue (one atomic script: the job is created only if its id is free), so
    two requests racing for the same job id make one job. A finished or failed run of that id
    is cleared and the job enqueued anew; a waiting one is returned; a running one gets one
    ``-again`` follow-up when ``rerun_if_running``."""
    for _ in range(4):
        try:
            return put(job_id)
        except DuplicateJobError:
            existing = q.fetch_job(job_id)
            status = existing.get_status(refresh=True) if existing is not None else None
            if status == JobStatus.STARTED and rerun_if_running and not job_id.endswith(_AGAIN):
                job_id += _AGAIN
                continue
            if existing is not None and (status in _WAITING or status == JobStatus.STARTED):
                return existing
            if existing is not None:
                existing.delete()  # a finished or failed run: this request asks for a new one
    raise RuntimeError(f"could not enqueue job_id={job_id}: it keeps changing state")


def enqueue_at(
    settings: Settings,
    when: datetime,
    func: JobRef,
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
    q = get_queue(settings, queue)

    def put(jid: str | None) -> Job:
        return q.enqueue_at(
            when,
            func,
            *args,
            job_id=jid,
            job_timeout=timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            unique=jid is not None,
        )

    job = put(None) if job_id is None else _put_unique(q, job_id, put, rerun_if_running=False)
    logger.info("scheduled job_id=%s func=%s queue=%s at=%s", job.id, job_name(func), queue, when)
    return job


# --- Starting work after a commit -----------------------------------------------------------

_AFTER_COMMIT = "contact_center.after_commit"


@dataclass(frozen=True)
class _Pending:
    job: JobRef
    ids: tuple[Any, ...]
    options: tuple[tuple[str, Any], ...]


def after_commit(
    session: Session,
    job: JobRef,
    *ids: Any,
    queue: str = DEFAULT,
    job_id: str | None = None,
    at: datetime | None = None,
    **options: Any,
) -> None:
    """Enqueue ``job(*ids)`` once ``session``'s transaction commits; nothing if it rolls back.

    The one way to start work after a write (views, services and jobs alike). ``job_id`` makes
    it unique in Redis (see ``enqueue``); ``at`` runs it then (``enqueue_at``); other options
    (``retries``, ``backoff``, ``timeout``, ``rerun_if_running``) go to ``enqueue``. The same
    job with the same ids is enqueued once per transaction. If Redis fails after the commit,
    the error is logged and the job left to its reconciler (contact_center.schedule): what was
    saved stays saved, and the caller, Twilio or coordinator, is never told it failed.
    Needs ``install_after_commit()`` (create_app calls it).
    """
    if at is not None:
        options["at"] = at
    pending = _Pending(
        job, ids, tuple(sorted({"queue": queue, "job_id": job_id, **options}.items()))
    )
    notes: list[_Pending] = session.info.setdefault(_AFTER_COMMIT, [])
    if pending not in notes:
        notes.append(pending)


def run_after_commit(session: Session) -> None:
    """Enqueue what ``after_commit`` noted on ``session`` (its transaction has committed)."""
    from contact_center.runtime import current_settings

    notes: list[_Pending] = session.info.pop(_AFTER_COMMIT, [])
    for note in notes:
        options = dict(note.options)
        what = f"{job_name(note.job)}{note.ids} job_id={options.get('job_id')}"
        try:
            at = options.pop("at", None)
            if at is not None:
                options.pop("retries", None)
                options.pop("backoff", None)
                options.pop("rerun_if_running", None)
                enqueue_at(current_settings(), at, note.job, *note.ids, **options)
            else:
                enqueue(current_settings(), note.job, *note.ids, **options)
        except RedisError:  # the commit stands; the reconciler re-reads the rows
            logger.warning(
                "after commit: redis unavailable, %s left to the reconciler", what, exc_info=True
            )
        except Exception:  # not Redis: a bug to see in the logs, still never the caller's error
            logger.exception("after commit: could not enqueue %s; left to the reconciler", what)


def _discard_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_AFTER_COMMIT, None)


def install_after_commit() -> None:
    """Run ``after_commit`` notes for every session of this process (idempotent)."""
    if not event.contains(Session, "after_commit", run_after_commit):
        event.listen(Session, "after_commit", run_after_commit)
        event.listen(Session, "after_soft_rollback", _discard_after_rollback)
