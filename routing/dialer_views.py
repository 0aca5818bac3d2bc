"""Twilio webhooks of the callback dialer's coordinator leg: connect, bridge result, outcome,
status. Each URL carries the attempt id and the claim's token."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.voice import EMPTY, Hangup, Say, Script
from contact_center.webhooks import twilio_signed, twiml, voice_webhook
from routing import dialer_jobs, dialer_legs

logger = logging.getLogger(__name__)
bp = Blueprint("dialer", __name__, url_prefix="/twilio/dialer")


def _sorry() -> Script:
    return Script.of(Say("Sorry, this callback could not be connected."), Hangup())


def _attempt() -> tuple[int, str]:
    attempt = parsing.ident(request.args.get("attempt")) or 0
    return attempt, parsing.token(request.args.get("token"), 128)


@bp.post("/connect")
@twilio_signed
@voice_webhook(_sorry)
def connect() -> Response:
    attempt_id, token = _attempt()
    with session_scope() as session:
        script, deferred = dialer_legs.connect(
            session, attempt_id, token, parsing.token(request.form.get("CallSid"), 34), clock.now()
        )
        if deferred:  # the patient's hours closed while the coordinator's phone rang
            dialer_jobs.schedule_attempt(session, deferred.id, deferred.due_at)
    return twiml(script)


@bp.post("/bridge-result")
@twilio_signed
@voice_webhook(_sorry)
def bridge_result() -> Response:
    attempt_id, token = _attempt()
    status = parsing.choice(request.form.get("DialCallStatus"), parsing.DIAL_STATUSES) or "failed"
    with session_scope() as session:
        script, following = dialer_legs.bridge_result(
            session, attempt_id, token, status, clock.now()
        )
        if following:
            dialer_jobs.schedule_attempt(session, following.id, following.due_at)
    return twiml(script)


@bp.post("/outcome")
@twilio_signed
@voice_webhook(_sorry)
def outcome() -> Response:
    attempt_id, token = _attempt()
    digits = parsing.line(request.form.get("Digits"), 16) or None
    with session_scope() as session:
        script, following = dialer_legs.record_outcome(
            session, attempt_id, token, digits, clock.now()
        )
        if following:
            dialer_jobs.schedule_attempt(session, following.id, following.due_at)
    return twiml(script)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    attempt_id, token = _attempt()
    with session_scope() as session:
        freed = dialer_legs.leg_status(
            session,
            attempt_id,
            token,
            parsing.choice(request.form.get("CallStatus"), parsing.CALL_STATUSES) or "",
            parsing.integer(request.form.get("CallDuration")),
            clock.now(),
        )
        if freed is not None:
            dialer_jobs.schedule_practice(session, freed)
    return twiml(EMPTY)
