"""Property: no route answers 5xx to any input, and voice webhooks always answer valid TwiML.

Routes are enumerated from ``app.url_map``, so a new route is covered without editing this
file. Twilio routes get generated forms signed with the test auth token (the input passed the
signature check); console and API routes get generated URL ids, query strings and bodies,
logged in as each role. Generation is derandomized (a fixed seed) and bounded, so CI runs the
same examples every time.
"""

from __future__ import annotations

import string
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from contact_center import clock
from contact_center.leads import services as leads
from contact_center.models import Role
from contact_center.twilio import sign
from contact_center.webhooks import ALWAYS_TWIML
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BASE_URL
from tests.web.conftest import log_in, make_login
from tests.web.test_access import PracticeData, practice_data

EXAMPLES_PER_TWILIO_ROUTE = 30
EXAMPLES_PER_CONSOLE_ROUTE = 15
# Never walked: a stream held open for minutes, and logging the client out.
NOT_WALKED = {"events.stream", "auth.logout", "static"}

PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

HOSTILE_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "²",
    "٣",
    "-1",
    "0",
    "1",
    "2147483647",
    "2147483648",
    "99999999999999999999",
    "9999-12-31",
    "9999-12-31T23:59",
    "0001-01-01",
    "1e999",
    "nan",
    "x" * 300,
    "completed",
    "in-progress",
    "<Response/>",
    "' OR 1=1 --",
    "client:gcoord",
    "+13105550142",
    "CA" + "0" * 32,
]
# Any printable text without lone surrogates (a form body is UTF-8 on the wire).
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
TEXT = st.one_of(st.sampled_from(HOSTILE_TEXT), ANY_TEXT)

TWILIO_FIELDS = [
    "CallSid",
    "ParentCallSid",
    "DialCallSid",
    "From",
    "To",
    "CallStatus",
    "DialCallStatus",
    "CallDuration",
    "DialCallDuration",
    "Digits",
    "SpeechResult",
    "Confidence",
    "RecordingSid",
    "RecordingUrl",
    "RecordingStatus",
    "RecordingChannels",
    "RecordingDuration",
    "QueueTime",
    "QueueResult",
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "ErrorCode",
    "Body",
    "CallbackTaskId",
]
TWILIO_QUERY = ["attempt", "token", "entry", "call", "source", "offer"]
CONSOLE_QUERY = [
    "c",
    "coordinator",
    "day",
    "flag",
    "recorded",
    "call_sid",
    "error",
    "saved",
    "next",
]
CONSOLE_FIELDS = [
    "state",
    "seconds",
    "outcome",
    "note",
    "booked_for",
    "from",
    "digits",
    "task_id",
    "status",
    "on",
    "name",
    "phone",
    "email",
    "message",
    "body",
    "comment",
    "criterion",
    "met",
    "hours",
    "greeting",
    "consent_mode",
    "wrap_up_seconds",
    "max_wait_seconds",
    "cadence",
    "max_attempts",
    "sla_minutes",
    "password",
    "sms_consent",
]
JSON_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        TEXT,
        st.sampled_from(["\ud800", "a\udfffb"]),  # lone surrogates: JSON can carry them
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(CONSOLE_FIELDS), inner)
    ),
    max_leaves=6,
)


@pytest.fixture
def glow(session: Session) -> PracticeData:
    return practice_data(session, "Glow Aesthetics", "g")


def _rules(app: Flask, keep: Callable[[Rule], bool]) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint not in NOT_WALKED and keep(r)),
        key=lambda r: r.rule,
    )


def _twiml_root(body: str) -> str:
    return ET.fromstring(body).tag


def test_twilio_routes_never_5xx_and_voice_routes_always_answer_twiml(
    app: Flask, client: FlaskClient, glow: PracticeData
) -> None:
    rules = _rules(app, lambda r: r.rule.startswith("/twilio/"))
    assert len(rules) >= 15
    sids = [glow.call.call_sid, "CA" + "f" * 32, glow.recording.recording_sid, "SM" + "e" * 32]
    value = st.one_of(st.sampled_from(sids), TEXT)
    forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS), value, max_size=8)
    queries = st.dictionaries(st.sampled_from(TWILIO_QUERY), value, max_size=3)
    seen: dict[str, set[int]] = {}

    for rule in rules:
        always_twiml = getattr(app.view_functions[rule.endpoint], ALWAYS_TWIML, False)
        path = rule.rule

        @settings(PROPERTY, max_examples=EXAMPLES_PER_TWILIO_ROUTE)
        @given(form=forms, query=queries, known_call=st.booleans())
        def post(form: dict[str, str], query: dict[str, str], known_call: bool) -> None:
            form = {"AccountSid": ACCOUNT_SID, **form}
            if known_call:  # reach the database with a call that exists
                form.setdefault("CallSid", glow.call.call_sid)
            url = path + (f"?{urlencode(query)}" if query else "")  # noqa: B023
            response = client.post(
                url,
                data=form,
                headers={"X-Twilio-Signature": sign(AUTH_TOKEN, BASE_URL + url, form)},
            )
            body = response.get_data(as_text=True)
            seen.setdefault(path, set()).add(response.status_code)  # noqa: B023
            assert response.status_code < 500, (url, form, body)
            assert response.status_code != 403, (url, form, body)  # signed: never refused
            if always_twiml:  # noqa: B023
                assert response.status_code == 200, (path, form, body)  # noqa: B023
            if response.status_code == 200:
                assert response.mimetype == "text/xml", (path, body)  # noqa: B023
                assert _twiml_root(body) == "Response", (path, body)  # noqa: B023

        post()
    assert set(seen) == {r.rule for r in rules}
    assert any(200 in codes for codes in seen.values())


def _form_value(value: Any) -> str:
    """A form field as a browser would send it: UTF-8 text (a lone surrogate cannot be sent)."""
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "replace").decode("utf-8")


def test_console_and_api_routes_never_5xx_for_any_role(
    app: Flask, session: Session, glow: PracticeData
) -> None:
    qa_lead = make_login(session, glow.practice, "gqa", Role.QA_LEAD)
    api_key = leads.create_api_key(session, glow.practice, clock.now(), label="website")
    clients: list[tuple[FlaskClient, str]] = []
    for email in (glow.coordinator.email, qa_lead.email, glow.admin.email):
        browser = app.test_client()
        clients.append((browser, log_in(browser, email or "")))
    rules = _rules(app, lambda r: not r.rule.startswith("/twilio/"))
    assert len(rules) >= 25
    ids = {
        "practice_id": glow.practice.id,
        "call_id": glow.call.id,
        "task_id": glow.task.id,
        "conversation_id": glow.conversation.id,
        "recording_id": glow.recording.id,
    }
    some_id = st.one_of(
        st.sampled_from(sorted(set(ids.values()))),
        st.integers(min_value=0, max_value=2**70),
    )
    path_text = st.one_of(
        st.sampled_from(
            [glow.call.call_sid, "CA" + "0" * 32, "x" * 300, "%00", "\x00", "a\x00b", "²"]
        ),
        st.text(string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=40),
    )
    queries = st.dictionaries(st.sampled_from(CONSOLE_QUERY), TEXT, max_size=4)
    bodies = st.dictionaries(st.sampled_from(CONSOLE_FIELDS), JSON_VALUE, max_size=6)
    walked = 0

    for rule in rules:
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        arguments = sorted(rule.arguments)

        @settings(PROPERTY, max_examples=EXAMPLES_PER_CONSOLE_ROUTE)
        @given(
            who=st.sampled_from(range(len(clients))),
            method=st.sampled_from(methods),
            values=st.fixed_dictionaries(
                {name: some_id if name.endswith("_id") else path_text for name in arguments}  # noqa: B023
            ),
            query=queries,
            body=bodies,
            as_json=st.booleans(),
            # /api/ routes take an API key (a web form's): with it, the body is parsed too.
            keyed=st.booleans(),
            idempotency_key=st.sampled_from(["k-1", "k-2", " ", "x" * 300]),
        )
        def request(
            who: int,
            method: str,
            values: dict[str, Any],
            query: dict[str, str],
            body: dict[str, Any],
            as_json: bool,
            keyed: bool,
            idempotency_key: str,
        ) -> None:
            browser, csrf = clients[who]
            built = rule.build(values, append_unknown=False)  # noqa: B023
            assert built is not None
            path = built[1]
            headers = {"X-CSRF-Token": csrf, "Idempotency-Key": idempotency_key}
            if keyed:
                headers["Authorization"] = f"Bearer {api_key}"
            kwargs: dict[str, Any] = {"query_string": query, "headers": headers}
            if method != "GET":
                if as_json:
                    kwargs["json"] = body
                else:
                    kwargs["data"] = {k: _form_value(v) for k, v in body.items()} | {
                        "csrf_token": csrf
                    }
            response = browser.open(path, method=method, buffered=True, **kwargs)
            assert response.status_code < 500, (method, path, query, body)

        request()
        walked += 1
    assert walked == len(rules)
