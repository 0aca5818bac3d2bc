"""Twilio message status callbacks (incoming texts are answered by ``ivr.sms_views``)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput
from contact_center.messaging import services
from contact_center.messaging.events import SmsStatus
from contact_center.webhooks import messaging_twiml, twilio_signed

logger = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/twilio/sms")


@bp.post("/status")
@twilio_signed
def status() -> Response:
    try:
        event = SmsStatus.from_form(request.form)
    except InvalidInput as exc:
        logger.warning("malformed sms status: %s", exc)
        return messaging_twiml(None)
    with session_scope() as session:
        services.apply_status(
            session, event.message_sid, event.status, event.error_code, clock.now()
        )
    return messaging_twiml(None)
