"""Twilio webhooks of the callback dialer's coordinator leg: connect, bridge result, outcome,
status. Each URL carries the attempt id and the claim's token."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock
from contact_center.db import session_scope
from contact_center.voice import EMPTY, Hangup, Say, Script
from contact_center.webhooks import app_settings, twilio_signed, twiml, voice_webhook
from routing import dialer_jobs, dialer_legs

logger = logging.getLogger(__name__)
bp = Blueprint("dialer", __name__, url_prefix="/twilio/dialer")


def _sorry() -> Script:
    return Script.of(Say("Sorry, this callback could not be connected."), Hangup())


def _attempt() -> tuple[int, str]:
    raw = request.args.get("attempt", "")
    return (int(raw) if raw.isdigit() else 0), request.args.get("token", "")


@bp.post("/connect")
@twilio_signed
@voice_webhook(_sorry)
def connect() -> Response:
    attempt_id, token = _attempt()
    with session_scope() as session:
        script, deferred = dialer_legs.connect(
            session, attempt_id, token, request.form.get("CallSid", ""), clock.now()
        )
        due = (deferred.id, deferred.due_at) if deferred else None
    if due:  # the patient's hours closed while the coordinator's phone rang
        dialer_jobs.schedule_attempt(app_settings(), *due)
    return twiml(script)


@bp.post("/bridge-result")
@twilio_signed
@voice_webhook(_sorry)
def bridge_result() -> Response:
    attempt_id, token = _attempt()
    status = (request.form.get("DialCallStatus") or "failed").strip()
    with session_scope() as session:
        script, following = dialer_legs.bridge_result(
            session, attempt_id, token, status, clock.now()
        )
        due = (following.id, following.due_at) if following else None
    if due:
        dialer_jobs.schedule_attempt(app_settings(), *due)
    return twiml(script)


@bp.post("/outcome")
@twilio_signed
@voice_webhook(_sorry)
def outcome() -> Response:
    attempt_id, token = _attempt()
    digits = (request.form.get("Digits") or "").strip() or None
    with session_scope() as session:
        script, following = dialer_legs.record_outcome(
            session, attempt_id, token, digits, clock.now()
        )
        due = (following.id, following.due_at) if following else None
    if due:
        dialer_jobs.schedule_attempt(app_settings(), *due)
    return twiml(script)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    attempt_id, token = _attempt()
    raw = (request.form.get("CallDuration") or "").strip()
    with session_scope() as session:
        freed = dialer_legs.leg_status(
            session,
            attempt_id,
            token,
            (request.form.get("CallStatus") or "").strip(),
            int(raw) if raw.isdigit() else None,
            clock.now(),
        )
    if freed is not None:
        dialer_jobs.schedule_practice(app_settings(), freed)
    return twiml(EMPTY)
