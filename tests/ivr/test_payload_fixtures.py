"""Replays Twilio's full webhook payloads (every standard parameter, as Twilio sends them)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.simulator import TwilioSimulator
from ivr.models import Call, CallStatus, ConsentRecord
from recordings.models import Recording
from tests.factories import make_coordinator, make_practice

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"


def payload(name: str, practice_number: str) -> dict[str, str]:
    text = (FIXTURES / f"{name}.json").read_text().replace("{practice_number}", practice_number)
    return dict(json.loads(text))


def test_a_whole_call_from_recorded_payloads(session: Session, twilio: TwilioSimulator) -> None:
    practice = make_practice(session)
    make_coordinator(session, practice, "ava")
    number = practice.phone_number

    status, body = twilio.post("/twilio/voice/incoming", payload("voice_incoming", number))
    assert status == 200 and "<Gather" in body
    assert 'action="https://cc.example.test/twilio/voice/consent"' in body
    status, body = twilio.post("/twilio/voice/consent", payload("voice_gather_speech", number))
    assert status == 200 and "This call will be recorded." in body
    status, body = twilio.post(
        "/twilio/voice/menu?attempt=1",
        {**payload("voice_gather_speech", number), "SpeechResult": "I'd like a new consultation"},
    )
    assert status == 200 and "<Client" in body and ">ava</Client>" in body
    assert (
        twilio.post(
            "/twilio/recordings/status?source=call", payload("recording_completed", number)
        )[0]
        == 200
    )
    assert twilio.post("/twilio/voice/status", payload("voice_status_completed", number))[0] == 200

    call = session.scalars(select(Call)).one()
    assert call.call_sid == "CA5f0b5f5c0e3d4a1b9c8d7e6f5a4b3c2d"
    assert call.status is CallStatus.COMPLETED and call.duration_s == 94
    consent = session.scalars(select(ConsentRecord)).one()
    assert (consent.granted, consent.speech, round(consent.confidence or 0, 3)) == (
        True,
        "Yes, that's fine.",
        0.886,
    )
    recording = session.scalars(select(Recording)).one()
    assert (recording.recording_sid, recording.channels, recording.duration_s) == (
        "RE0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        2,
        88,
    )
