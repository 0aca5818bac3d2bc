"""The baseline for bench/speed_to_lead.py: the least a lead can cost on the same stack.

``POST /api/leads`` parses the JSON, inserts one row and commits, then enqueues one RQ job; the
job (a non-forking worker, as in the product bench) reads the row and inserts one "request" row,
standing in for the REST request to Twilio. No validation, consent, patient, task or SLA: what
is left is gunicorn, Flask, one PostgreSQL commit each side and one trip through RQ.

    gunicorn bench.bare_leads:app          (web; BARE_DATABASE_URL, BARE_REDIS_URL)
    python bench/bare_leads.py worker      (RQ worker on the ``bare`` queue)
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from flask import Flask, Response, jsonify, request
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import Engine, create_engine, text

QUEUE = "bare"
SCHEMA = (
    "DROP TABLE IF EXISTS bare_requests, bare_leads",
    "CREATE TABLE bare_leads (id serial PRIMARY KEY, phone text NOT NULL, "
    "created_at timestamptz NOT NULL)",
    "CREATE TABLE bare_requests (id serial PRIMARY KEY, lead_id int NOT NULL, "
    "created_at timestamptz NOT NULL)",
)


@cache
def engine() -> Engine:
    return create_engine(os.environ["BARE_DATABASE_URL"], pool_pre_ping=True)


@cache
def queue() -> Queue:
    return Queue(QUEUE, connection=Redis.from_url(os.environ["BARE_REDIS_URL"]))


def create_tables(url: str) -> None:
    bench_engine = create_engine(url)
    with bench_engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(text(statement))
    bench_engine.dispose()


def deliver(lead_id: int) -> None:
    """The job: read the lead, record the "REST request"."""
    with engine().begin() as conn:
        conn.execute(text("SELECT phone FROM bare_leads WHERE id = :i"), {"i": lead_id}).one()
        conn.execute(
            text("INSERT INTO bare_requests (lead_id, created_at) VALUES (:i, :t)"),
            {"i": lead_id, "t": datetime.now(UTC)},
        )


app = Flask(__name__)


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.post("/api/leads")
def accept() -> tuple[Response, int]:
    body = request.get_json()
    with engine().begin() as conn:
        lead_id = conn.scalar(
            text("INSERT INTO bare_leads (phone, created_at) VALUES (:p, :t) RETURNING id"),
            {"p": body["phone"], "t": datetime.now(UTC)},
        )
    queue().enqueue(deliver, lead_id)
    return jsonify(lead_id=lead_id), 201


def results(conn: object) -> list[float]:
    """Seconds from each lead's commit time to its request."""
    rows = conn.execute(  # type: ignore[attr-defined]
        text(
            "SELECT extract(epoch FROM r.created_at - l.created_at) FROM bare_leads l "
            "JOIN bare_requests r ON r.lead_id = l.id"
        )
    )
    return [float(r[0]) for r in rows]


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    SimpleWorker([queue()], connection=queue().connection).work()
