"""Hostile and malformed input never gets a 500: each case found in review, one test each.

Webhooks are signed like Twilio's (the input passed the signature check); console requests are
logged in. Every request is one a real client could send.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder

from contact_center import clock, parsing
from contact_center.leads import services as leads
from contact_center.leads.models import Lead
from contact_center.messaging.models import Message, MessageDirection
from contact_center.simulator import TwilioSimulator
from ivr.models import Call
from recordings.models import Recording
from tests.web.conftest import PASSWORD, log_in
from tests.web.test_access import PracticeData, practice_data

SUPERSCRIPT_TWO = "²"  # passes str.isdigit(), fails int()
BEYOND_INTEGER = "2147483648"  # PostgreSQL integer ends at 2**31 - 1
BEYOND_BIGINT = "99999999999999999999"
HOSTILE = ["\x00", "a\x00b", SUPERSCRIPT_TWO, BEYOND_INTEGER, BEYOND_BIGINT, "x" * 300, "-1"]

STATUS_ROUTES = [
    "/twilio/voice/status",
    "/twilio/voice/agent-status",
    "/twilio/client/status",
    "/twilio/dialer/status?attempt=1&token=t",
    "/twilio/recordings/status?source=call",
]


@pytest.fixture
def glow(session: Session) -> PracticeData:
    return practice_data(session, "Glow Aesthetics", "g")


def _call_form(data: PracticeData, **fields: str) -> dict[str, str]:
    return {
        "CallSid": data.call.call_sid,
        "AccountSid": "AC" + "1" * 32,
        "From": "+13105550142",
        "To": data.practice.phone_number,
        "CallStatus": "completed",
        "CallDuration": "12",
        "ParentCallSid": data.call.call_sid,
        "RecordingSid": "RE" + "b" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE",
        "RecordingStatus": "completed",
        "RecordingChannels": "2",
        "RecordingDuration": "30",
        **fields,
    }


@pytest.mark.parametrize("route", STATUS_ROUTES)
def test_status_callbacks_take_hostile_values_without_a_500(
    glow: PracticeData, twilio: TwilioSimulator, route: str
) -> None:
    fields = ["CallStatus", "CallDuration", "RecordingStatus", "RecordingChannels"]
    failures = []
    for field in [*fields, "RecordingDuration", "ParentCallSid", "RecordingUrl"]:
        for value in HOSTILE:
            status, body = twilio.post(route, _call_form(glow, **{field: value}))
            if status >= 500:
                failures.append((field, value, status))
    assert failures == []


def test_recording_channels_beyond_bigint_store_a_sane_recording(
    session: Session, glow: PracticeData, twilio: TwilioSimulator
) -> None:
    form = _call_form(glow, RecordingChannels=BEYOND_BIGINT, RecordingDuration=BEYOND_INTEGER)
    status, _ = twilio.post("/twilio/recordings/status?source=call", form)
    assert status == 200
    stored = session.scalars(select(Recording).where(Recording.recording_sid == "RE" + "b" * 32))
    recording = stored.one()
    assert (recording.channels, recording.duration_s) == (1, None)


def test_a_status_longer_than_its_column_is_refused_not_a_500(
    session: Session, glow: PracticeData, twilio: TwilioSimulator
) -> None:
    form = _call_form(glow, RecordingStatus="completed" * 5)
    status, _ = twilio.post("/twilio/recordings/status?source=call", form)
    assert status == 422
    assert session.scalars(select(Recording).where(Recording.call_id == glow.call.id)).all() == [
        glow.recording
    ]


@pytest.mark.parametrize(
    "route",
    [
        "/twilio/dialer/status?attempt=2147483648&token=t",
        "/twilio/dialer/connect?attempt=2147483648&token=t",
        "/twilio/voice/menu?attempt=2147483648",
        "/twilio/queue/wait?entry=99999999999999999999",
    ],
)
def test_ids_beyond_postgresql_integer_in_webhook_urls(
    glow: PracticeData, twilio: TwilioSimulator, route: str
) -> None:
    status, body = twilio.post(route, _call_form(glow, Digits="1"))
    assert status < 500, body
    if "/status" not in route:
        assert "<Response" in body


def test_an_sms_with_a_nul_is_kept_without_the_nul(
    session: Session, glow: PracticeData, twilio: TwilioSimulator
) -> None:
    form = {
        "MessageSid": "SM" + "c" * 32,
        "AccountSid": "AC" + "1" * 32,
        "From": "+13105550177",
        "To": glow.practice.phone_number,
        "Body": "Can I move my\x00 appointment? \U0001f600",
    }
    status, body = twilio.post("/twilio/sms/incoming", form)
    assert status == 200, body
    inbound = session.scalars(
        select(Message).where(Message.direction == MessageDirection.INBOUND)
    ).one()
    assert inbound.body == "Can I move my appointment? \U0001f600"


@pytest.mark.parametrize("value", ["\x00", SUPERSCRIPT_TWO, "delivered\x00", "x" * 100])
def test_sms_status_callbacks_take_hostile_values(
    glow: PracticeData, twilio: TwilioSimulator, value: str
) -> None:
    form = {"MessageSid": "SM" + "d" * 32, "MessageStatus": value, "ErrorCode": value * 10}
    assert twilio.post("/twilio/sms/status", form)[0] < 500


# --- /api/leads ------------------------------------------------------------------------------


@pytest.fixture
def api_key(session: Session, glow: PracticeData) -> str:
    return leads.create_api_key(session, glow.practice, clock.now(), label="website")


def _post_raw(client: FlaskClient, key: str | None, raw: str | bytes, idem: str = "k-1") -> int:
    headers = {"Content-Type": "application/json", "Idempotency-Key": idem}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return client.post("/api/leads", data=raw, headers=headers).status_code


@pytest.mark.parametrize("field", ["name", "phone", "email", "source", "message"])
@pytest.mark.parametrize("value", ["\\u0000", "\\ud800", "Maya\\u0000\\udfff"])
def test_leads_with_nul_or_lone_surrogates_never_500(
    client: FlaskClient, api_key: str, field: str, value: str
) -> None:
    body = {"name": "Maya Lopez", "phone": "+13105550142", "sms_consent": False}
    raw = json.dumps(body)[:-1] + f', "{field}": "{value}"}}'
    assert _post_raw(client, api_key, raw, idem=f"{field}-{value}") in (201, 422)


def test_a_lead_name_keeps_its_text_without_the_nul(
    session: Session, client: FlaskClient, api_key: str
) -> None:
    raw = '{"name": "Maya\\u0000 Lopez\\ud800", "phone": "+13105550142"}'
    assert _post_raw(client, api_key, raw) == 201
    assert session.scalars(select(Lead.name)).one() == "Maya Lopez"


def test_deeply_nested_json_is_not_parsed_before_the_api_key(
    client: FlaskClient, api_key: str
) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    assert _post_raw(client, None, nested) == 403
    assert _post_raw(client, "cc_not-a-key", nested) == 403
    assert _post_raw(client, api_key, nested) == 422


def test_an_idempotency_key_with_a_nul(client: FlaskClient, api_key: str) -> None:
    raw = json.dumps({"name": "Maya Lopez", "phone": "+13105550142"})
    assert _post_raw(client, api_key, raw, idem="k\x00") in (201, 422)


# --- console -------------------------------------------------------------------------------


def test_console_filters_and_ids_that_are_not_ids(app: Flask, glow: PracticeData) -> None:
    pid = glow.practice.id
    admin = app.test_client()
    log_in(admin, glow.admin.email or "")
    assert admin.get(f"/p/{pid}/qa?coordinator={SUPERSCRIPT_TWO}").status_code == 200
    assert admin.get(f"/p/{pid}/qa?coordinator={BEYOND_INTEGER}&day=9999-99-99").status_code == 200
    assert admin.get(f"/p/{pid}/qa?day=0001-01-01&flag=%00").status_code == 200
    assert admin.get(f"/p/{pid}/inbox?c={SUPERSCRIPT_TWO}").status_code == 200
    assert admin.get(f"/p/{pid}/inbox?c={BEYOND_BIGINT}").status_code == 200
    assert admin.get(f"/p/{BEYOND_BIGINT}/console").status_code == 404
    assert admin.get(f"/p/{BEYOND_INTEGER}/console").status_code == 404
    assert admin.get(f"/p/{pid}/calls/{BEYOND_INTEGER}").status_code == 404
    assert admin.get(f"/p/{pid}/api/callbacks/{BEYOND_BIGINT}").status_code == 404
    assert admin.get(f"/p/{pid}/calls/{glow.call.id}?error=%00").status_code == 200


@pytest.mark.parametrize("path", ["api/presence", "api/routing/wrap-up/extend", "sandbox/calls"])
def test_deeply_nested_json_to_console_endpoints(app: Flask, glow: PracticeData, path: str) -> None:
    client = app.test_client()
    csrf = log_in(client, glow.coordinator.email or "")
    response = client.post(
        f"/p/{glow.practice.id}/{path}",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code < 500


def test_screen_pop_with_a_nul_call_sid(app: Flask, glow: PracticeData) -> None:
    client = app.test_client()
    log_in(client, glow.coordinator.email or "")
    response = client.get(f"/p/{glow.practice.id}/api/screen-pop?call_sid=%00")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "booked_for", ["9999-12-31T10:00", "9999-12-31", "0001-01-01T00:00", "²", "\x00"]
)
def test_an_outcome_dated_out_of_range_is_refused(
    app: Flask, glow: PracticeData, booked_for: str
) -> None:
    client = app.test_client()
    csrf = log_in(client, glow.coordinator.email or "")
    response = client.post(
        f"/p/{glow.practice.id}/api/calls/{glow.call.id}/outcome",
        json={"outcome": "booked_consultation", "booked_for": booked_for, "note": "a\x00b"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "booked_for"


@pytest.mark.parametrize(
    "field", ["wrap_up_seconds", "max_wait_seconds", "max_attempts", "sla_minutes"]
)
@pytest.mark.parametrize("value", [SUPERSCRIPT_TWO, BEYOND_BIGINT, "\x00"])
def test_settings_values_that_are_not_numbers(
    app: Flask, glow: PracticeData, field: str, value: str
) -> None:
    client = app.test_client()
    csrf = log_in(client, glow.admin.email or "")
    form = {
        "csrf_token": csrf,
        "hours": "mon-fri 09:00-18:00",
        "greeting": "Hello\x00",
        "consent_mode": "all_party",
        "wrap_up_seconds": "60",
        "max_wait_seconds": "300",
        "cadence": "now, +5m",
        "max_attempts": "3",
        "sla_minutes": "5",
        field: value,
    }
    response = client.post(f"/p/{glow.practice.id}/settings", data=form)
    assert response.status_code == 422


def test_login_with_a_nul_in_the_email(app: Flask, glow: PracticeData) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": "a\x00@x.example", "password": "p\x00", "csrf_token": token}
    )
    assert response.status_code == 401


# --- the parsing layer itself ----------------------------------------------------------------


def test_the_parsing_layer() -> None:
    assert parsing.integer(SUPERSCRIPT_TWO) is None
    assert parsing.integer("٣") is None  # other scripts' digits are not ASCII digits
    assert parsing.integer(BEYOND_INTEGER) is None
    assert parsing.integer(str(parsing.INT_MAX)) == parsing.INT_MAX
    assert parsing.integer(BEYOND_INTEGER, high=parsing.BIGINT_MAX) == 2**31
    assert parsing.integer(" 42 ") == 42 and parsing.integer("4 2") is None
    assert parsing.integer("-5") is None and parsing.integer("-5", low=-10) == -5
    assert parsing.integer(True) is None and parsing.integer(7) == 7
    assert parsing.ident("0") is None and parsing.ident("1") == 1
    assert parsing.text("a\x00b\ud800c", 2) == "ab"
    assert parsing.text(None) == "" and parsing.text(5) == ""
    assert parsing.line("  a \n\t b  ") == "a b"
    assert parsing.day("9999-12-31") is None and parsing.day("2026-11-24") is not None
    assert parsing.moment("9999-12-31T10:00") is None
    assert parsing.moment("2026-11-24T10:00") is not None
    assert parsing.choice(" Completed ", parsing.CALL_STATUSES) == "completed"
    assert parsing.choice("completed" * 10, parsing.CALL_STATUSES) is None
    assert parsing.number("0.93", low=0, high=1) == 0.93
    assert parsing.number("nan", low=0, high=1) is None
    assert parsing.number("1e999", low=0, high=1) is None
    assert parsing.json_body(b"[" * 100_000) is None
    assert parsing.json_body(b"\xff") is None


# --- request size and account ----------------------------------------------------------------


class CountingBody:
    """A request body of ``size`` bytes that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.read_bytes = size, 0, 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.position
        n = left if n is None or n < 0 else min(n, left)
        self.position += n
        self.read_bytes += n
        return b"a" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size + offset if whence == 2 else offset
        return self.position


HUGE = 128 * 1024 * 1024


@pytest.mark.parametrize(
    "path",
    [
        "/twilio/voice/incoming",
        "/twilio/sms/incoming",
        "/api/leads",
        "/login",
        "/p/1/settings",
        "/p/1/api/presence",
    ],
)
def test_a_128_mb_body_is_refused_with_413_before_it_is_read(
    client: FlaskClient, path: str
) -> None:
    body = CountingBody(HUGE)
    response = client.post(
        path,
        input_stream=body,  # type: ignore[arg-type]
        content_length=HUGE,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "anything", "Authorization": "Bearer cc_x"},
    )
    assert response.status_code == 413
    assert body.read_bytes == 0


def test_a_body_without_a_length_is_cut_at_the_limit(app: Flask) -> None:
    body = CountingBody(HUGE)
    environ = EnvironBuilder(
        path="/twilio/voice/incoming",
        method="POST",
        input_stream=body,  # type: ignore[arg-type]
        content_type="application/x-www-form-urlencoded",
        headers=[("X-Twilio-Signature", "anything")],
    ).get_environ()
    del environ["CONTENT_LENGTH"]  # chunked: the server only knows where the body ends
    environ["wsgi.input_terminated"] = True
    response = app.test_client().open(environ)
    assert response.status_code == 413
    assert body.read_bytes <= 2 * 1024 * 1024


def test_a_signed_webhook_for_another_account_is_refused_and_changes_nothing(
    session: Session, glow: PracticeData, twilio: TwilioSimulator
) -> None:
    form = {
        "CallSid": "CA" + "7" * 32,
        "From": "+13105550142",
        "To": glow.practice.phone_number,
        "CallStatus": "ringing",
    }
    foreign = {**form, "AccountSid": "AC" + "9" * 32}
    assert twilio.post("/twilio/voice/incoming", foreign)[0] == 403
    assert twilio.post("/twilio/voice/incoming", {**form, "AccountSid": ""})[0] == 403
    assert session.scalars(select(Call).where(Call.call_sid == form["CallSid"])).all() == []
    sms = {"MessageSid": "SM" + "7" * 32, "From": "+13105550142", "To": form["To"], "Body": "hi"}
    assert twilio.post("/twilio/sms/incoming", {**sms, "AccountSid": "AC" + "9" * 32})[0] == 403
    assert session.scalars(select(Message)).all() == []
    status, body = twilio.post("/twilio/voice/incoming", form)  # this account's: answered
    assert status == 200 and "<Response>" in body
    assert session.scalars(select(Call).where(Call.call_sid == form["CallSid"])).one()


@pytest.mark.parametrize(
    "target", ["/p/1/console%0d%0aSet-Cookie:%20x=1", "/%00", "/²", "/%5Cevil.example"]
)
def test_login_with_a_hostile_next(app: Flask, glow: PracticeData, target: str) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        f"/login?next={target}",
        data={"email": glow.admin.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\n" not in location and "\x00" not in location and "evil" not in location
    assert all("x=1" not in cookie for cookie in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(
    "action", ["calls/%00/digits", "calls/%00/voicemail", "device/%00/answer", "device/%00/reject"]
)
def test_sandbox_call_sids_with_a_nul(app: Flask, glow: PracticeData, action: str) -> None:
    client = app.test_client()
    csrf = log_in(client, glow.coordinator.email or "")
    response = client.post(
        f"/p/{glow.practice.id}/sandbox/{action}",
        json={"digits": "1", "seconds": "²", "status": "\x00"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code < 500
