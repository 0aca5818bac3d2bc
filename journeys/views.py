"""The tracked review link: ``GET /rv/<token>`` counts the click and redirects to the practice's
public review page. The token is the only key; an unknown one answers 404 and says nothing."""

from __future__ import annotations

from flask import Blueprint, abort, redirect
from werkzeug.wrappers import Response

from contact_center import clock
from contact_center.db import session_scope
from journeys import reviews

bp = Blueprint("journeys_public", __name__)


@bp.get("/rv/<token>")
def review_redirect(token: str) -> Response:
    if len(token) != 2 * reviews.TOKEN_BYTES or not all(c in "0123456789abcdef" for c in token):
        abort(404)
    with session_scope() as session:
        url = reviews.click(session, token, clock.now())
    if url is None:
        abort(404)
    response = redirect(url, code=302)
    response.headers["Cache-Control"] = "no-store"  # every click reaches us
    response.headers["X-Robots-Tag"] = "noindex"
    return response
