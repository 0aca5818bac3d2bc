"""Recording status callbacks from Twilio: keep (then download) or undo (no consent)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from contact_center import clock
from contact_center.db import session_scope
from contact_center.voice import EMPTY
from contact_center.webhooks import twilio_signed, twiml
from ivr.events import RecordingStatus
from recordings import jobs, services
from recordings.models import RecordingSource

bp = Blueprint("recordings", __name__, url_prefix="/twilio/recordings")


@bp.post("/status")
@twilio_signed
def status() -> Response:
    event = RecordingStatus.from_form(request.form)
    source = (
        RecordingSource.VOICEMAIL
        if request.args.get("source") == "voicemail"
        else RecordingSource.CALL
    )
    with session_scope() as session:
        decision = services.attach_recording(session, event, source, clock.now())
        if decision.keep and decision.new:
            jobs.enqueue_download(session, decision.recording_sid)
        if not decision.keep and services.deletion_pending(session, decision.recording_sid):
            jobs.schedule_deletion(session, decision.recording_sid)
    return twiml(EMPTY)
