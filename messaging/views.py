"""Twilio messaging webhooks: incoming texts (answered with TwiML) and message status callbacks."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.jobs import left_to_reconciler
from contact_center.twilio import clean_text
from contact_center.webhooks import app_settings, twilio_signed
from ivr import sms
from messaging import services
from messaging.events import InboundSms, SmsStatus
from routing import dialer_jobs

logger = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/twilio/sms")


def _messaging_twiml(reply: str | None) -> Response:
    response = MessagingResponse()
    if reply:
        response.message(clean_text(reply))
    return Response(str(response), mimetype="text/xml")


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    try:
        event = InboundSms.from_form(request.form)
    except InvalidInput as exc:
        logger.warning("malformed sms webhook: %s", exc)
        return _messaging_twiml(None)
    with session_scope() as session:
        handled = sms.handle_inbound_sms(session, event, clock.now())
    if handled.dial_attempt_id is not None:
        with left_to_reconciler(f"callback for sms {event.message_sid}"):
            dialer_jobs.schedule_attempt(app_settings(), handled.dial_attempt_id, handled.dial_due)
    return _messaging_twiml(handled.reply)


@bp.post("/status")
@twilio_signed
def status() -> Response:
    try:
        event = SmsStatus.from_form(request.form)
    except InvalidInput as exc:
        logger.warning("malformed sms status: %s", exc)
        return _messaging_twiml(None)
    with session_scope() as session:
        services.apply_status(
            session, event.message_sid, event.status, event.error_code, clock.now()
        )
    return _messaging_twiml(None)
