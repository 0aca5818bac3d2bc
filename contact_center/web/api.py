"""The console's JSON endpoints: presence, heartbeat, softphone token, screen pop, outcomes."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, jsonify, request

from appointments.services import SlotTaken
from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.errors import InvalidInput, NotFound
from contact_center.models import Role
from contact_center.web import events, queries, reports, tokens
from contact_center.web.access import (
    call_for,
    current_user,
    practice_view,
    require_call,
    require_callback_leg,
)
from contact_center.web.outcomes import record_outcome
from contact_center.webhooks import app_settings
from routing import services as routing
from routing.models import Presence, PresenceState
from routing.presence import heartbeat as heartbeat_of

bp = Blueprint("api", __name__, url_prefix="/p/<int:practice_id>/api")

COORDINATING = {Role.COORDINATOR, Role.ADMIN}


@bp.errorhandler(SlotTaken)
def _slot_taken(error: SlotTaken) -> tuple[Response, int]:
    return jsonify(error=str(error), field="start"), 409


def _payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _me() -> int:
    user = current_user()
    assert user is not None
    return user.id


@bp.post("/presence")
@practice_view(COORDINATING)
def set_presence(practice_id: int) -> Response:
    raw = str(_payload().get("state", ""))
    try:
        state = PresenceState(raw)
    except ValueError as exc:
        raise InvalidInput(f"unknown presence {raw!r}", "state") from exc
    now = clock.now()
    with session_scope() as s:
        presence = routing.set_presence(s, _me(), state, now)
        presence.heartbeat_at = now
        result = {"state": presence.state.value, "changed_at": presence.changed_at.isoformat()}
    events.publish(
        app_settings(),
        events.practice_channel(practice_id),
        "presence",
        {"user_id": _me(), **result},
    )
    return jsonify(result)


@bp.post("/heartbeat")
@practice_view(COORDINATING)
def heartbeat(practice_id: int) -> Response:
    now = clock.now()
    with session_scope() as s:
        state = heartbeat_of(s, _me(), now).state.value
    return jsonify(state=state, at=now.isoformat())


@bp.get("/token")
@practice_view(COORDINATING)
def token(practice_id: int) -> Response:
    user = current_user()
    assert user is not None
    return jsonify(dataclasses.asdict(tokens.voice_token(app_settings(), user.identity)))


@bp.get("/screen-pop")
@practice_view()
def screen_pop(practice_id: int) -> Response:
    """The caller's context: by the parent CallSid, else the call the user is reserved for.

    Only for those the call rule allows: a colleague's caller is not this user's to read.
    """
    with session_scope() as s:
        call = None
        sid = parsing.token(request.args.get("call_sid"), 34)
        if sid:
            call = queries.call_by_sid_in_practice(s, practice_id, sid)
        presence = s.get(Presence, _me())
        held = presence.call_sid if presence is not None else None
        if call is None and held:
            call = queries.call_by_sid_in_practice(s, practice_id, held)
        if call is not None:
            pop = queries.screen_pop(s, practice_id, require_call(s, call))
        else:
            attempt = queries.callback_attempt(s, practice_id, sid, held)
            if attempt is None:
                raise NotFound("no call to show")
            require_callback_leg(s, practice_id, attempt.coordinator_id)
            pop = queries.callback_pop(s, practice_id, attempt, sid)
    return jsonify(dataclasses.asdict(pop))


@bp.post("/calls/<int:call_id>/outcome")
@practice_view()
def outcome(practice_id: int, call_id: int) -> Response:
    data = _payload()
    now = clock.now()
    with session_scope() as s:
        call_for(s, practice_id, call_id)
        detail = record_outcome(
            s,
            practice_id,
            call_id,
            _me(),
            parsing.token(data.get("outcome")),
            parsing.text(data.get("note"), 4000),
            parsing.token(data.get("booked_for")),
            now,
            booking={k: str(data.get(k) or "") for k in ("service_id", "provider_id", "start")},
        )
        presence = s.get(Presence, _me())  # a QA lead correcting an outcome has none
        if presence is not None and presence.state is PresenceState.WRAP_UP:
            routing.set_presence(s, _me(), PresenceState.AVAILABLE, now)
        state = presence.state.value if presence is not None else None
    events.publish(
        app_settings(),
        events.practice_channel(practice_id),
        "outcome",
        {"call_id": call_id, "outcome": detail["outcome"]},
    )
    return jsonify(outcome=detail, presence=state)


@bp.get("/callbacks")
@practice_view(COORDINATING)
def callbacks(practice_id: int) -> Response:
    with session_scope() as s:
        rows = queries.open_callbacks(s, practice_id, clock.now())
    return jsonify(callbacks=[dataclasses.asdict(r) for r in rows])


@bp.get("/callbacks/<int:task_id>")
@practice_view(COORDINATING)
def callback(practice_id: int, task_id: int) -> Response:
    with session_scope() as s:
        task = queries.callback_in_practice(s, practice_id, task_id)
        body = {
            "id": task.id,
            "phone": task.phone,
            "status": task.status.value,
            "sla_deadline": task.sla_deadline.isoformat(),
        }
    return jsonify(body)


@bp.get("/wallboard")
@practice_view()
def wallboard(practice_id: int) -> Response:
    with session_scope() as s:
        board = reports.wallboard(s, practice_id, clock.now())
    return jsonify(dataclasses.asdict(board))
