"""Live updates: events published on Redis pub/sub, streamed to browsers as server-sent events.

Any web process (or worker) may publish; each browser's stream subscribes to its practice's
channel and its user's channel, so any number of web processes serve the same live console.
Streams end after a few minutes and the browser's EventSource reconnects (no process holds a
connection forever, and a dead browser frees its thread at the next keep-alive).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, stream_with_context

from contact_center.jobs import get_redis
from contact_center.settings import Settings
from contact_center.web.access import current_user, practice_view
from contact_center.webhooks import app_settings

logger = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15


def practice_channel(practice_id: int) -> str:
    return f"cc:practice:{practice_id}"


def user_channel(user_id: int) -> str:
    return f"cc:user:{user_id}"


def publish(settings: Settings, channel: str, kind: str, data: dict[str, Any]) -> None:
    """Send one event to every browser listening on ``channel`` (best effort, after commit)."""
    try:
        get_redis(settings).publish(channel, json.dumps({"type": kind, **data}, default=str))
    except Exception:  # live updates are a convenience: the pages also refresh on their own
        logger.exception("could not publish %s on %s", kind, channel)


def sse(kind: str, data: str) -> str:
    return f"event: {kind}\ndata: {data}\n\n"


@bp.get("/p/<int:practice_id>/events")
@practice_view()
def stream(practice_id: int) -> Response:
    user = current_user()
    assert user is not None
    channels = [practice_channel(practice_id), user_channel(user.id)]
    settings = app_settings()

    def generate() -> Iterator[str]:
        pubsub = get_redis(settings).pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*channels)
        try:
            yield "retry: 2000\n\n" + sse("hello", json.dumps({"channels": len(channels)}))
            started = last_sent = time.monotonic()
            while time.monotonic() - started < STREAM_SECONDS:
                message = pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    raw = message["data"]
                    text = raw.decode() if isinstance(raw, bytes) else str(raw)
                    kind = str(json.loads(text).get("type", "message"))
                    yield sse(kind, text)
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
        finally:
            pubsub.close()

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
