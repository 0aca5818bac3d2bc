"""Twilio webhooks of the console softphone's own calls (the TwiML App's Voice URL and Status
Callback): click to dial a callback task's patient."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock
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
    raw_task = (request.form.get("CallbackTaskId") or "").strip()
    identity = (request.form.get("From") or "").strip().removeprefix("client:")
    call_sid = (request.form.get("CallSid") or "").strip()
    if not raw_task.isdigit() or not identity or not call_sid:
        logger.warning("softphone call without a callback task call_sid=%s", call_sid)
        return twiml(Script.of(Say("Calls are placed from a callback in the console."), Hangup()))
    with session_scope() as session:
        script = click_to_dial.start_callback_call(
            session, int(raw_task), identity, call_sid, clock.now()
        )
    return twiml(script)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    raw = (request.form.get("CallDuration") or "").strip()
    with session_scope() as session:
        freed = click_to_dial.client_leg_status(
            session,
            (request.form.get("CallSid") or "").strip(),
            (request.form.get("CallStatus") or "").strip(),
            int(raw) if raw.isdigit() else None,
            clock.now(),
        )
        if freed is not None:
            dialer_jobs.schedule_practice(session, freed)
    return twiml(EMPTY)
