"""Twilio's messaging webhook for incoming texts: keywords, acknowledgment, callback task."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.messaging.events import InboundSms
from contact_center.webhooks import messaging_twiml, twilio_signed
from ivr import sms
from routing import dialer_jobs

logger = logging.getLogger(__name__)
bp = Blueprint("sms_inbound", __name__, url_prefix="/twilio/sms")


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    try:
        event = InboundSms.from_form(request.form)
    except InvalidInput as exc:
        logger.warning("malformed sms webhook: %s", exc)
        return messaging_twiml(None)
    with session_scope() as session:
        handled = sms.handle_inbound_sms(session, event, clock.now())
        if handled.dial_attempt_id is not None:
            dialer_jobs.schedule_attempt(session, handled.dial_attempt_id, handled.dial_due)
    return messaging_twiml(handled.reply)
