"""The REST adapter: the SDK's own code path, with requests recorded and checked against
Twilio's OpenAPI description."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.models import TwilioRequest
from contact_center.settings import Settings
from contact_center.twilio import TwilioAdapter
from tests.openapi import problems


def recorded(session: Session) -> list[TwilioRequest]:
    return list(session.scalars(select(TwilioRequest).order_by(TwilioRequest.id)))


def test_every_request_the_adapter_makes_is_one_twilio_accepts(
    session: Session, settings: Settings
) -> None:
    adapter = TwilioAdapter(settings)
    call_sid = adapter.create_call(
        to="client:ava",
        from_="+14155550100",
        url="/twilio/voice/outbound?task=1",
        status_callback="/twilio/voice/status",
        timeout=25,
    )
    adapter.redirect_call(call_sid, "/twilio/voice/queue-redirect?to=ava")
    message_sid = adapter.send_message(
        to="+13105550142",
        from_="+14155550100",
        body="Hello from Glow Aesthetics",
        status_callback="/twilio/sms/status",
    )
    adapter.delete_recording("RE" + "a" * 32)

    rows = recorded(session)
    assert [(r.method, r.url.split("/Accounts/")[1]) for r in rows] == [
        ("POST", f"{settings.twilio_account_sid}/Calls.json"),
        ("POST", f"{settings.twilio_account_sid}/Calls/{call_sid}.json"),
        ("POST", f"{settings.twilio_account_sid}/Messages.json"),
        ("DELETE", f"{settings.twilio_account_sid}/Recordings/{'RE' + 'a' * 32}.json"),
    ]
    assert call_sid.startswith("CA") and len(call_sid) == 34
    assert message_sid.startswith("SM") and len(message_sid) == 34
    create = rows[0].form
    assert create["Url"] == "https://cc.example.test/twilio/voice/outbound?task=1"
    assert create["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert create["Timeout"] == "25"
    for row in rows:
        assert problems(row.method, row.url, row.form) == [], row.url
        assert row.sent is False


def test_the_openapi_check_catches_what_twilio_would_reject() -> None:
    base = "https://api.twilio.com/2010-04-01/Accounts/AC" + "1" * 32
    assert problems("POST", base + "/Calls.json", {"To": "+1", "Url": "https://x"}) == [
        "/2010-04-01/Accounts/{AccountSid}/Calls.json: required field From missing"
    ]
    assert problems(
        "POST",
        base + "/Calls.json",
        {"To": "a", "From": "b", "Url": "https://x", "Timeout": "soon"},
    )
    assert problems("POST", base + "/Calls.json", {"To": "a", "From": "b"}) == [
        "/2010-04-01/Accounts/{AccountSid}/Calls.json:"
        " one of Url, Twiml, ApplicationSid is required"
    ]
    assert problems(
        "POST", base + "/Calls.json", {"To": "a", "From": "b", "Url": "https://x", "Method": "PUT"}
    )
    assert problems(
        "POST", base + "/Calls.json", {"To": "a", "From": "b", "Url": "https://x", "Colour": "red"}
    )
    assert problems("POST", base + "/Nonsense.json", {})
    assert problems("POST", "https://evil.example/2010-04-01/Calls.json", {})
