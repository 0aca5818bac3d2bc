"""Routing over HTTP: the Enqueue wait/action URLs and the connect URL queued callers are
redirected to (Twilio, signed), and JSON wrap-up and queue endpoints.

The JSON endpoints serve the console: a logged-in member of the practice only (presence and
heartbeat themselves live with the console's own endpoints, which call routing's services).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import select

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.errors import InvalidInput, NotFound
from contact_center.models import Membership, Role, User
from contact_center.voice import Pause, Script, apology_and_voicemail
from contact_center.web.access import current_user, practice_view
from contact_center.webhooks import app_settings, twilio_signed, twiml, voice_webhook
from ivr import services as ivr
from routing import queue, services, waiting
from routing.models import Presence, QueueEntry, QueueStatus

queue_bp = Blueprint("queue", __name__, url_prefix="/twilio/queue")
api_bp = Blueprint("routing_api", __name__, url_prefix="/p/<int:practice_id>/api/routing")

_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
LEAVE_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Leave /></Response>'


def register(app: Flask) -> None:
    app.register_blueprint(queue_bp)
    app.register_blueprint(api_bp)


@dataclass(frozen=True)
class QueueEvent:
    """What Twilio posts to the wait URL, a Gather action in it, or the Enqueue action."""

    entry_id: int
    call_sid: str
    queue_time_s: int
    result: str
    digits: str | None

    @classmethod
    def from_request(cls, args: Mapping[str, str], form: Mapping[str, str]) -> QueueEvent:
        sid = parsing.token(form.get("CallSid"))
        if not _CALL_SID.match(sid):
            raise InvalidInput("CallSid missing or malformed", "CallSid")
        entry = parsing.ident(args.get("entry"))
        if entry is None:
            raise NotFound("no queue entry")
        return cls(
            entry_id=entry,
            call_sid=sid,
            queue_time_s=parsing.integer(form.get("QueueTime")) or 0,
            result=parsing.choice(form.get("QueueResult"), parsing.QUEUE_RESULTS) or "",
            digits=parsing.line(form.get("Digits"), 16) or None,
        )


def _answer(answer: waiting.QueueAnswer) -> Response:
    if isinstance(answer, waiting.LeaveQueue):
        return Response(LEAVE_TWIML, mimetype="text/xml")
    return twiml(answer)


def _keep_holding() -> Script:
    return Script.of(Pause(5))  # a failing wait URL must not drop or confuse a waiting caller


@queue_bp.post("/wait")
@twilio_signed
@voice_webhook(_keep_holding)
def wait() -> Response:
    event = QueueEvent.from_request(request.args, request.form)
    options = services.RoutingOptions.from_settings(app_settings())
    with session_scope() as session:
        script = waiting.hold(
            session,
            event.entry_id,
            event.call_sid,
            event.queue_time_s,
            clock.now(),
            options.hold_music_url,
        )
    return twiml(script)


@queue_bp.post("/key")
@twilio_signed
@voice_webhook(_keep_holding)
def key() -> Response:
    event = QueueEvent.from_request(request.args, request.form)
    with session_scope() as session:
        answer = waiting.press_key(
            session,
            event.entry_id,
            event.call_sid,
            event.digits,
            request.args.get("offer") == "1",
            event.queue_time_s,
            clock.now(),
        )
    return _answer(answer)


@queue_bp.post("/result")
@twilio_signed
@voice_webhook(apology_and_voicemail)
def result() -> Response:
    event = QueueEvent.from_request(request.args, request.form)
    with session_scope() as session:
        script = waiting.left_queue(
            session,
            event.entry_id,
            event.call_sid,
            event.result,
            event.queue_time_s,
            clock.now(),
        )
    return twiml(script)


@queue_bp.post("/connect")
@twilio_signed
@voice_webhook(apology_and_voicemail)
def connect() -> Response:
    """Where a waiter is redirected when a coordinator was reserved for them: ring them (or,
    if that reservation is gone, the next free coordinator, else back in line)."""
    event = QueueEvent.from_request(request.args, request.form)
    options = ivr.VoiceOptions(ring_timeout_s=app_settings().ring_timeout_s)
    with session_scope() as session:
        call = ivr.call_by_sid(session, event.call_sid)
        script = ivr.connect_to_coordinator(session, call, clock.now(), options)
    return twiml(script)


# --- JSON for the console (logged-in users only, scoped to one practice) -----------------


def _presence_json(p: Presence, user: User) -> dict[str, Any]:
    return {
        "identity": user.identity,
        "state": p.state.value,
        "changed_at": p.changed_at.isoformat(),
        "idle_since": p.idle_since.isoformat() if p.idle_since else None,
        "call_sid": p.call_sid,
        "wrap_up_until": p.wrap_up_until.isoformat() if p.wrap_up_until else None,
        "heartbeat_at": p.heartbeat_at.isoformat() if p.heartbeat_at else None,
    }


@api_bp.post("/wrap-up/extend")
@practice_view()
def extend_wrap_up(practice_id: int) -> Response:
    """``{"seconds": 60}``: more after-call time for the logged-in coordinator."""
    data = request.get_json(silent=True)
    raw = data.get("seconds", 60) if isinstance(data, dict) else 60
    seconds = parsing.integer(raw, low=-parsing.INT_MAX)
    if seconds is None:
        raise InvalidInput("seconds must be a whole number", "seconds")
    me = current_user()
    assert me is not None  # practice_view guarantees a login
    with session_scope() as session:
        user = session.get_one(User, me.id)
        body = _presence_json(services.extend_wrap_up(session, user.id, seconds, clock.now()), user)
    return jsonify(body)


@api_bp.get("/queue")
@practice_view()
def practice_queue(practice_id: int) -> Response:
    """The practice's line (in order) and its coordinators' presence, for the wallboard."""
    now = clock.now()
    with session_scope() as session:
        entries = session.scalars(
            select(QueueEntry)
            .where(
                QueueEntry.practice_id == practice_id,
                QueueEntry.status.in_(
                    [QueueStatus.WAITING, QueueStatus.CALLBACK, QueueStatus.ASSIGNED]
                ),
            )
            .order_by(QueueEntry.id)
        ).all()
        line = [
            {
                "call_sid": e.call_sid,
                "status": e.status.value,
                "position": queue.position_of(session, e) if e.status.in_line else 0,
                "waiting_s": int((now - e.enqueued_at).total_seconds()),
            }
            for e in entries
        ]
        staff = session.execute(
            select(User, Presence)
            .join(Membership, Membership.user_id == User.id)
            .join(Presence, Presence.user_id == User.id)
            .where(Membership.practice_id == practice_id, Membership.role == Role.COORDINATOR)
            .order_by(User.identity)
        ).all()
        coordinators = [_presence_json(p, u) for u, p in staff]
    return jsonify(practice_id=practice_id, line=line, coordinators=coordinators)
