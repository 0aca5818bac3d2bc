"""gunicorn settings for the web process, shared by production (Procfile) and ``make run``.

Why gevent workers for the whole app: every open console holds a server-sent-events stream
(contact_center/web/events.py) all day. With sync workers (or a thread pool) each stream pins a
worker or thread, so four open consoles left Twilio's webhooks unanswered for 20 s. A gevent
worker serves each request in a greenlet, and a stream waiting on Redis pub/sub costs a few KB
of memory, not a worker. This is what Flask's own deployment docs and Flask-SSE recommend for
streaming, and it keeps one process type behind one URL (no proxy rules to split /events off).

It is safe for this app because everything a request waits on cooperates once gevent has
patched the standard library, which the gevent worker does before it imports the app:
- psycopg 3 (>= 3.1) sees the patched ``select`` and waits through it instead of in C
  (``post_worker_init`` below refuses to serve if it did not);
- redis-py, RQ's enqueue and the Twilio SDK's ``requests`` use the patched sockets;
- SQLAlchemy's pool uses the patched locks, so a greenlet waits for a free connection;
- nothing in a request is CPU-bound for long (transcription runs in the worker).
SQLite (``make run`` only) calls block the process while they run, as they are short; its
busy timeout is a wait inside C, acceptable for a demo and never used in production.

Measured with bench/voice_webhook.py: see README "Production" for the figures.
"""

from __future__ import annotations

from typing import Any

worker_class = "gevent"
# Open connections per worker process: consoles' streams plus requests in flight.
worker_connections = 1000
# Streams notice a closed browser only at their next keep-alive; do not hold a restart for them.
graceful_timeout = 10


def post_worker_init(worker: Any) -> None:
    """Refuse to serve if psycopg was imported before gevent patched ``select`` (it would then
    wait for PostgreSQL in C and block every greenlet of this worker)."""
    from gevent import monkey
    from psycopg import waiting

    if not monkey.is_module_patched("select") or waiting.wait is getattr(waiting, "wait_c", None):
        worker.log.error("psycopg is not gevent-cooperative in this worker; refusing to serve")
        raise SystemExit(3)
