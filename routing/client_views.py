"""Twilio webhooks of the console softphone's own calls (the TwiML App's Voice URL and Status
Callback): click to dial a callback task's patient."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.voice import EMPTY, Hangup, Say, Script
from contact_center.webhooks import twilio_signed, twiml, voice_webhook
from routing import click_to_dial, dialer_jobs

logger = logging.getLogger(__name__)
bp = Blueprint("client", __name__, url_prefix="/twilio/client")


def _sorry() -> Script:
    return Script.of(Say("Sorry, the call could not be placed. Please try again."), Hangup())


@bp.post("/outgoing")
@twilio_signed
@voice_webhook(_sorry)
def outgoing() -> Response:
    """A softphone placed a call: only a callback task of the coordinator's practice may be
    dialed (the call carries ``CallbackTaskId``; ``To`` is ignored)."""
    task_id = parsing.ident(request.form.get("CallbackTaskId"))
    identity = parsing.token(request.form.get("From")).removeprefix("client:")
    call_sid = parsing.token(request.form.get("CallSid"), 34)
    if task_id is None or not identity or not call_sid:
        logger.warning("softphone call without a callback task call_sid=%s", call_sid)
        return twiml(Script.of(Say("Calls are placed from a callback in the console."), Hangup()))
    with session_scope() as session:
        script = click_to_dial.start_callback_call(
            session, task_id, identity, call_sid, clock.now()
        )
    return twiml(script)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    with session_scope() as session:
        freed = click_to_dial.client_leg_status(
            session,
            parsing.token(request.form.get("CallSid"), 34),
            parsing.choice(request.form.get("CallStatus"), parsing.CALL_STATUSES) or "",
            parsing.integer(request.form.get("CallDuration")),
            clock.now(),
        )
        if freed is not None:
            dialer_jobs.schedule_practice(session, freed)
    return twiml(EMPTY)
