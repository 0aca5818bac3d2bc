"""The sandbox's HTTP side: the Try-it caller, the coordinator's sandbox device, REST log.

Only in sandbox mode (no Twilio credentials); otherwise every route here is 404. Webhooks are
posted to this same app in-process and signed like Twilio's, so the product under test runs
exactly the code Twilio would reach.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from sqlalchemy import select

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.jobs import REALTIME, enqueue, enqueue_at, get_redis
from contact_center.models import TwilioRequest, User
from contact_center.phones import to_e164
from contact_center.runtime import current_settings
from contact_center.simulator import TwilioSimulator, new_sid
from contact_center.twilio import RecordedRequest, on_recorded
from contact_center.web import events, queries
from contact_center.web.access import current_user, practice_view
from contact_center.web.sandbox_calls import SandboxPlayer
from contact_center.webhooks import app_settings

bp = Blueprint("sandbox", __name__, url_prefix="/p/<int:practice_id>/sandbox")

SMS_WEBHOOK = "/twilio/sms/incoming"


@bp.before_request
def _sandbox_only() -> None:
    if not app_settings().sandbox:
        abort(404)


def _transport(app: Flask) -> Any:
    base = app_settings().public_base_url

    def send(url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
        with app.test_client() as client:
            response = client.post(url.removeprefix(base), data=dict(form), headers=dict(headers))
            return response.status_code, response.get_data(as_text=True)

    return send


def simulator() -> TwilioSimulator:
    settings = app_settings()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return TwilioSimulator(
        settings.public_base_url,
        settings.twilio_auth_token,
        settings.twilio_account_sid,
        _transport(app),
    )


def _user_id_for(identity: str) -> int | None:
    with session_scope() as s:
        return s.scalars(select(User.id).where(User.identity == identity)).first()


def player() -> SandboxPlayer:
    settings = app_settings()

    def publish(user_id: int, kind: str, data: dict[str, Any]) -> None:
        events.publish(settings, events.user_channel(user_id), kind, data)

    return SandboxPlayer(simulator(), get_redis(settings), publish, _user_id_for)


def _me() -> int:
    user = current_user()
    assert user is not None
    return user.id


def _field(name: str) -> str:
    data = request.get_json(silent=True)
    source = data if isinstance(data, dict) else request.form
    value = source.get(name, "")
    return parsing.line(value if isinstance(value, str) else str(value), 2000)


@bp.post("/calls")
@practice_view()
def place_call(practice_id: int) -> Response:
    caller = to_e164(_field("from") or "+13105550142")
    with session_scope() as s:
        number = queries.practice(s, practice_id).phone_number
    call = player().start(practice_id, _me(), caller, number)
    return jsonify(call.view())


@bp.post("/calls/<call_sid>/digits")
@practice_view()
def press(practice_id: int, call_sid: str) -> Response:
    digits = _field("digits")
    if digits and not all(c in "0123456789*#" for c in digits):
        raise InvalidInput("keys are 0-9, * and #", "digits")
    return jsonify(player().press(practice_id, _me(), call_sid, digits).view())


@bp.post("/calls/<call_sid>/voicemail")
@practice_view()
def voicemail(practice_id: int, call_sid: str) -> Response:
    seconds = _field("seconds")
    call = player().finish_voicemail(
        practice_id, _me(), call_sid, parsing.integer(seconds, high=3600) or 0
    )
    return jsonify(call.view())


@bp.post("/calls/<call_sid>/hangup")
@practice_view()
def caller_hangup(practice_id: int, call_sid: str) -> Response:
    return jsonify(player().hang_up_caller(practice_id, _me(), call_sid).view())


@bp.post("/calls/<call_sid>/ring-timeout")
@practice_view()
def ring_timeout(practice_id: int, call_sid: str) -> Response:
    return jsonify(player().ring_timeout(practice_id, _me(), call_sid).view())


@bp.post("/device/calls")
@practice_view()
def device_call(practice_id: int) -> Response:
    """The softphone's "Call" on a callback task: placed through the TwiML App."""
    task_id = parsing.ident(_field("task_id"))
    if task_id is None:
        raise InvalidInput("task_id is the callback task to call", "task_id")
    user = current_user()
    assert user is not None
    call = player().place(practice_id, user.id, user.identity, task_id)
    return jsonify(call.view())


@bp.post("/device/<call_sid>/answer")
@practice_view()
def device_answer(practice_id: int, call_sid: str) -> Response:
    call = player().answer(practice_id, _me(), call_sid)
    whispers = [line["text"] for line in call.lines if line["who"] == "whisper"]
    return jsonify(state=call.state, whispers=whispers)


@bp.post("/device/<call_sid>/reject")
@practice_view()
def device_reject(practice_id: int, call_sid: str) -> Response:
    status = _field("status") or "busy"
    return jsonify(state=player().reject(practice_id, _me(), call_sid, status).state)


@bp.post("/device/<call_sid>/hangup")
@practice_view()
def device_hangup(practice_id: int, call_sid: str) -> Response:
    return jsonify(state=player().hang_up_agent(practice_id, _me(), call_sid).state)


@bp.post("/device/<call_sid>/hold")
@practice_view()
def device_hold(practice_id: int, call_sid: str) -> Response:
    on = _field("on") in ("1", "true", "yes")
    return jsonify(held=player().hold(practice_id, _me(), call_sid, on).held)


@bp.post("/lead")
@practice_view()
def web_lead(practice_id: int) -> Response:
    """Fill in the practice's web form as a patient: the lead goes through the same intake as
    ``POST /api/leads`` (SMS consent given), without an API key (sandbox only)."""
    from routing.lead_views import schedule_follow_up
    from routing.leads import accept_lead

    with session_scope() as s:
        practice = queries.practice(s, practice_id)
        data = {
            "name": _field("name") or "Maya Lopez",
            "phone": _field("phone") or "+13105550142",
            "message": _field("message") or None,
            "source": "try it",
            "sms_consent": True,
            "consent_wording": f"I agree to receive texts from {practice.name}.",
        }
        raw = json.dumps(data).encode()
        accepted = accept_lead(s, practice, new_sid("LD"), raw, data, clock.now())
        schedule_follow_up(s, practice_id, accepted)
    return jsonify(accepted.body)


@bp.post("/sms")
@practice_view()
def text_practice(practice_id: int) -> Response | tuple[Response, int]:
    """Text the practice number as a patient; the product's TwiML replies are returned."""
    rules = {rule.rule for rule in current_app.url_map.iter_rules()}
    if SMS_WEBHOOK not in rules:
        return jsonify(error="SMS arrives with the messaging feature"), 501
    body = _field("body")
    sender = to_e164(_field("from") or "+13105550142")
    with session_scope() as s:
        number = queries.practice(s, practice_id).phone_number
    sim = simulator()
    form = {
        "MessageSid": new_sid("SM"),
        "SmsSid": "",
        "AccountSid": sim.account_sid,
        "From": sender,
        "To": number,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    form["SmsSid"] = form["MessageSid"]
    status, reply = sim.post(SMS_WEBHOOK, form)
    return jsonify(status=status, replies=_message_bodies(reply))


def _message_bodies(twiml: str) -> list[str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return []
    return [" ".join(m.itertext()).strip() for m in root.iter("Message")]


@bp.get("/requests")
@practice_view()
def rest_requests(practice_id: int) -> Response:
    """The REST requests the product would have sent to Twilio for this practice's number."""
    with session_scope() as s:
        number = queries.practice(s, practice_id).phone_number
        rows = s.scalars(select(TwilioRequest).order_by(TwilioRequest.id.desc()).limit(300))
        mine = [
            {
                "id": r.id,
                "method": r.method,
                "url": r.url.split("api.twilio.com", 1)[-1],
                "form": r.form,
                "sid": r.response_sid,
                "at": r.created_at.isoformat(),
            }
            for r in rows
            if number in {str(v) for v in (r.form or {}).values()}
        ][:50]
    return jsonify(requests=mine)


# -- the calls the product places (the dialer ringing a coordinator) -------------------------


def ring_placed_calls() -> Callable[[], None]:
    """In the worker of a sandbox demo: every call the product places to a softphone rings
    that coordinator's sandbox device, as Twilio would ring their browser. Returns what stops
    it."""
    return on_recorded(_ring_later)


def _ring_later(recorded: RecordedRequest) -> None:
    to = str(recorded.form.get("To", ""))
    if recorded.method != "POST" or not recorded.url.endswith("/Calls.json"):
        return
    if not to.startswith("client:") or recorded.response_sid is None:
        return
    form = {k: str(v) for k, v in recorded.form.items()}
    enqueue(
        current_settings(),
        ring_softphone,
        recorded.response_sid,
        form,
        queue=REALTIME,
        job_id=f"sandbox-ring-{recorded.response_sid}",
        retries=0,
    )


def ring_softphone(call_sid: str, form: dict[str, str]) -> None:
    """The job: ring the device, and give up after the call's ring timeout."""
    from datetime import timedelta

    from contact_center.patients import practice_by_number

    with session_scope() as s:
        practice = practice_by_number(s, form.get("From", ""))
        practice_id = practice.id if practice is not None else None
    if practice_id is None:
        return
    timeout = int(form.get("Timeout", "20") or 20)
    call = player().ring_leg(
        practice_id,
        call_sid,
        form.get("From", ""),
        form["To"].removeprefix("client:"),
        form["Url"],
        form.get("StatusCallback", ""),
        timeout,
    )
    if call is not None:
        enqueue_at(
            current_settings(),
            clock.now() + timedelta(seconds=timeout),
            ring_timed_out,
            practice_id,
            call_sid,
            queue=REALTIME,
            job_id=f"sandbox-ring-timeout-{call_sid}",
        )


def ring_timed_out(practice_id: int, call_sid: str) -> None:
    player().leg_timeout(practice_id, call_sid)
