"""The provider's iCalendar feed at a secret URL, for calendars that can only subscribe.

``GET /calendar/<token>.ics``: the provider's held and past appointments (30 days back, 180
ahead), with the same minimal events as the CalDAV calendar. The token is the only key, so an
unknown token answers 404 and says nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort

from appointments import feed
from contact_center import clock
from contact_center.db import session_scope

bp = Blueprint("appointments_feed", __name__)


@bp.get("/calendar/<token>.ics")
def provider_feed(token: str) -> Response:
    if not 16 <= len(token) <= 64 or not token.replace("-", "").replace("_", "").isalnum():
        abort(404)
    now = clock.now()
    with session_scope() as session:
        body = feed.provider_feed(
            session, token, now - timedelta(days=30), now + timedelta(days=180), now
        )
    if body is None:
        abort(404)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
    )
