"""Twilio voice webhooks: validate, parse, call one service in one transaction, render TwiML."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.voice import EMPTY, apology_and_hangup, apology_and_voicemail
from contact_center.webhooks import app_settings, twilio_signed, twiml, voice_webhook
from ivr import services
from ivr.events import DialOutcome, GatherAnswer, IncomingCall, StatusUpdate, VoicemailLeft
from ivr.jobs import schedule_text_back

logger = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/twilio/voice")
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")


def _options() -> services.VoiceOptions:
    return services.VoiceOptions(ring_timeout_s=app_settings().ring_timeout_s)


@bp.post("/incoming")
@twilio_signed
@voice_webhook(apology_and_hangup)
def incoming() -> Response:
    event = IncomingCall.from_form(request.form)
    with session_scope() as session:
        script = services.handle_incoming(session, event, clock.now())
    return twiml(script)


@bp.post("/consent")
@twilio_signed
@voice_webhook(apology_and_voicemail)
def consent() -> Response:
    event = GatherAnswer.from_form(request.form)
    with session_scope() as session:
        script = services.answer_consent(session, event, clock.now())
    return twiml(script)


@bp.post("/menu")
@twilio_signed
@voice_webhook(apology_and_voicemail)
def menu() -> Response:
    event = GatherAnswer.from_form(request.form)
    attempt = parsing.integer(request.args.get("attempt"), low=1, default=1) or 1
    with session_scope() as session:
        script = services.choose_menu(session, event, attempt, clock.now(), _options())
    return twiml(script)


@bp.post("/dial-result")
@twilio_signed
@voice_webhook(apology_and_voicemail)
def dial_result() -> Response:
    event = DialOutcome.from_form(request.form)
    with session_scope() as session:
        script = services.dial_finished(session, event, clock.now(), _options())
    return twiml(script)


@bp.post("/voicemail")
@twilio_signed
@voice_webhook(apology_and_hangup)
def voicemail() -> Response:
    event = VoicemailLeft.from_form(request.form)
    with session_scope() as session:
        script = services.voicemail_left(session, event, clock.now())
    return twiml(script)


@bp.post("/whisper")
@twilio_signed
@voice_webhook(lambda: EMPTY)  # the coordinator is connected even if the whisper fails
def whisper() -> Response:
    with session_scope() as session:
        script = services.whisper(session, parsing.token(request.args.get("call")))
    return twiml(script)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    event = StatusUpdate.from_form(request.form)
    with session_scope() as session:
        moved = services.update_call_status(session, event, clock.now())
        if moved and event.status in FINAL_STATUSES:
            # Missed-call text-back; the job checks the call went unanswered and may be texted.
            schedule_text_back(session, event.call_sid)
    return twiml(EMPTY)


@bp.post("/agent-status")
@twilio_signed
def agent_status() -> Response:
    event = StatusUpdate.from_form(request.form)
    parent = parsing.token(request.args.get("call")) or event.parent_call_sid or ""
    with session_scope() as session:
        services.coordinator_leg_status(session, parent, event.status, clock.now())
    return twiml(EMPTY)
