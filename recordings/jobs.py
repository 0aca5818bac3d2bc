"""Recording jobs: each takes a RecordingSid and is safe to run twice."""

from __future__ import annotations

import logging

from contact_center.runtime import current_settings
from contact_center.twilio import get_adapter

logger = logging.getLogger(__name__)


def delete_at_twilio(recording_sid: str) -> None:
    """Delete Twilio's copy of a recording (e.g. one made without consent)."""
    get_adapter(current_settings()).delete_recording(recording_sid)
    logger.info("deleted recording at twilio recording_sid=%s", recording_sid)
