"""Everything that speaks Twilio: signatures, TwiML rendering, and the REST adapter.

- ``signature_valid`` checks ``X-Twilio-Signature`` with the SDK's RequestValidator against the
  public URL (``PUBLIC_BASE_URL`` + path + query), never the Host header.
- ``render`` turns a domain ``Script`` into TwiML with the SDK's ``VoiceResponse``.
- ``TwilioAdapter`` wraps ``twilio.rest.Client``. Its HTTP client is injected: the SDK's real one
  in production, ``RecordingHttpClient`` in sandbox mode and tests, which stores each request in
  ``twilio_requests`` and answers the way Twilio would, so the SDK code path is the same.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urljoin

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from contact_center import voice
from contact_center.settings import Settings

logger = logging.getLogger(__name__)

# XML 1.0 cannot carry these at all; the SDK escapes <&> but passes them through, and Twilio
# then rejects the whole document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text safe to put in TwiML: no XML-invalid characters, whitespace folded."""
    return " ".join(_XML_INVALID.sub(" ", text).split())


def signature_valid(auth_token: str, public_url: str, params: Any, signature: str | None) -> bool:
    """True when ``signature`` is Twilio's signature of this URL and form."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(public_url, params, signature))


def sign(auth_token: str, public_url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (the simulator and tests sign with it)."""
    return str(RequestValidator(auth_token).compute_signature(public_url, params))


def render(script: voice.Script, base_url: str) -> str:
    """TwiML for a domain script; relative URLs are made absolute on ``base_url``."""
    response = VoiceResponse()
    for step in script.steps:
        _render_step(response, step, base_url)
    return str(response)


def _url(base_url: str, path: str) -> str:
    return urljoin(base_url + "/", path.lstrip("/")) if path.startswith("/") else path


def _render_prompt(parent: Any, step: voice.Prompt, base_url: str) -> None:
    if isinstance(step, voice.Say):
        parent.say(clean_text(step.text), voice="Polly.Joanna")
    elif isinstance(step, voice.Play):
        parent.play(_url(base_url, step.url), loop=step.loop)
    elif isinstance(step, voice.Pause):
        parent.pause(length=step.seconds)


def _render_step(response: VoiceResponse, step: voice.Step, base_url: str) -> None:
    if isinstance(step, voice.Say | voice.Play | voice.Pause):
        _render_prompt(response, step, base_url)
    elif isinstance(step, voice.Gather):
        gather = response.gather(
            input=step.input,
            action=_url(base_url, step.action),
            method="POST",
            num_digits=step.num_digits,
            timeout=step.timeout,
            speech_timeout="auto" if "speech" in step.input else None,
            hints=clean_text(step.hints) if step.hints else None,
            action_on_empty_result=step.action_on_empty_result,
            language="en-US",
        )
        for prompt in step.prompt:
            _render_prompt(gather, prompt, base_url)
    elif isinstance(step, voice.Dial):
        dial = response.dial(
            action=_url(base_url, step.action),
            method="POST",
            timeout=step.timeout,
            caller_id=step.caller_id,
            record="record-from-answer-dual" if step.record else None,
            recording_status_callback=(
                _url(base_url, step.recording_status_callback)
                if step.record and step.recording_status_callback
                else None
            ),
            recording_status_callback_event="completed" if step.record else None,
        )
        for client in step.clients:
            dial.client(
                clean_text(client.identity),
                url=_url(base_url, client.whisper_url) if client.whisper_url else None,
                status_callback=(
                    _url(base_url, client.status_callback) if client.status_callback else None
                ),
                status_callback_event=(
                    "initiated ringing answered completed" if client.status_callback else None
                ),
            )
        if step.number:
            dial.number(step.number)
    elif isinstance(step, voice.Record):
        response.record(
            action=_url(base_url, step.action),
            method="POST",
            max_length=step.max_length,
            timeout=step.timeout,
            finish_on_key=step.finish_on_key,
            play_beep=step.play_beep,
            recording_status_callback=_url(base_url, step.recording_status_callback),
            recording_status_callback_event="completed",
        )
    elif isinstance(step, voice.Enqueue):
        response.enqueue(
            clean_text(step.name),
            wait_url=_url(base_url, step.wait_url),
            wait_url_method="POST",
            action=_url(base_url, step.action),
            method="POST",
        )
    elif isinstance(step, voice.Redirect):
        response.redirect(_url(base_url, step.url), method="POST")
    elif isinstance(step, voice.Hangup):
        response.hangup()
    else:  # pragma: no cover - the Step union is closed
        raise TypeError(f"unknown voice step {step!r}")


# --- REST ------------------------------------------------------------------------------------

_SID_PREFIX = {"Calls": "CA", "Messages": "SM", "Recordings": "RE", "Queues": "QU"}
_RESOURCE = re.compile(
    r"/(Calls|Messages|Recordings|Queues|Members)(?:/([A-Za-z0-9]+))?(?:\.json)?"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    form: dict[str, Any]
    response_sid: str | None
    status_code: int


# A list of what was created: (resource, filters such as {"To": ..., "From": ...}) -> records,
# newest first, each with the resource's form fields, "sid" and "date_created" (UTC).
Lookup = Callable[[str, Mapping[str, str]], list[dict[str, Any]]]


_listeners: list[Callable[[RecordedRequest], None]] = []


def on_recorded(listener: Callable[[RecordedRequest], None]) -> Callable[[], None]:
    """Sandbox only: call ``listener`` with every request the recording client records (the
    sandbox demo plays the calls the product places). Returns what stops it."""
    if listener not in _listeners:
        _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


class RecordingHttpClient(HttpClient):
    """The SDK's HttpClient that records requests instead of sending them (sandbox, tests).

    It answers like Twilio: a new resource gets a fresh SID, an update echoes the SID in the
    path, a DELETE answers 204, a list (GET on a collection) shows what was created, filtered
    as Twilio filters it. ``store`` receives each request (the default writes a row) and
    ``lookup`` answers lists (the default reads those rows).
    """

    def __init__(
        self,
        store: Callable[[RecordedRequest], None],
        account_sid: str,
        lookup: Lookup | None = None,
    ) -> None:
        super().__init__(logger=logger, is_async=False)
        self._store = store
        self._lookup = lookup
        self._account_sid = account_sid

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        form = {k: v for k, v in (data or {}).items()}
        matches = _RESOURCE.findall(uri)
        resource, existing = matches[-1] if matches else ("", "")
        if method.upper() == "GET" and resource and not existing and self._lookup is not None:
            query = {k: str(v) for k, v in (params or {}).items()}
            body = json.dumps(self._list_page(resource, query, uri))
            url = f"{uri}?{urlencode(query)}" if query else uri
            self._store(RecordedRequest("GET", url, {}, None, 200))
            return Response(200, body, headers={"Content-Type": "application/json"})
        if method.upper() == "DELETE":
            status, sid, body = 204, existing or None, ""
        else:
            sid = existing or _SID_PREFIX.get(resource, "XX") + secrets.token_hex(16)
            status = 200 if existing or method.upper() == "GET" else 201
            body = json.dumps(_fake_resource(self._account_sid, sid, resource, form, uri))
        recorded = RecordedRequest(method.upper(), uri, form, sid, status)
        self._store(recorded)
        for listener in _listeners:
            listener(recorded)
        return Response(status, body, headers={"Content-Type": "application/json"})

    def _list_page(self, resource: str, query: Mapping[str, str], uri: str) -> dict[str, Any]:
        assert self._lookup is not None
        size = int(query.get("PageSize", "50"))
        filters = {k: v for k, v in query.items() if k in ("To", "From")}
        records = [
            {
                **_fake_resource(self._account_sid, str(r["sid"]), resource, r, uri),
                "date_created": format_datetime(r["date_created"], usegmt=True),
            }
            for r in self._lookup(resource, filters)[:size]
        ]
        path = uri.split("api.twilio.com", 1)[-1]
        return {
            resource.lower(): records,
            "uri": path,
            "first_page_uri": path,
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": max(len(records) - 1, 0),
        }


def _fake_resource(
    account_sid: str, sid: str, resource: str, form: Mapping[str, Any], uri: str
) -> dict[str, Any]:
    snake = {
        re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v
        for k, v in form.items()
        if k not in ("sid", "date_created")
    }
    return {
        **snake,
        "sid": sid,
        "account_sid": account_sid,
        "status": "queued",
        "direction": "outbound-api",
        "uri": uri.split("api.twilio.com", 1)[-1],
    }


def store_in_database(request: RecordedRequest) -> None:
    """Default sink of the recording client: one ``twilio_requests`` row, committed on its own."""
    from contact_center.db import session_scope
    from contact_center.models import TwilioRequest

    with session_scope() as session:
        session.add(
            TwilioRequest(
                method=request.method,
                url=request.url,
                form={k: _jsonable(v) for k, v in request.form.items()},
                response_sid=request.response_sid,
                status_code=request.status_code,
                sent=False,
            )
        )


def lookup_in_database(resource: str, filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """Default lists of the recording client: the recorded creations, newest first."""
    from sqlalchemy import select

    from contact_center.db import session_scope
    from contact_center.models import TwilioRequest

    with session_scope() as session:
        rows = session.scalars(
            select(TwilioRequest)
            .where(TwilioRequest.method == "POST", TwilioRequest.url.endswith(f"/{resource}.json"))
            .order_by(TwilioRequest.id.desc())
        ).all()
        return [
            {**row.form, "sid": row.response_sid, "date_created": row.created_at}
            for row in rows
            if all(str(row.form.get(k)) == v for k, v in filters.items())
        ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


class TwilioAdapter:
    """The product's only way to Twilio's REST API."""

    def __init__(self, settings: Settings, http_client: HttpClient | None = None) -> None:
        if http_client is None:
            http_client = (
                RecordingHttpClient(
                    store_in_database, settings.twilio_account_sid, lookup_in_database
                )
                if settings.sandbox
                else TwilioHttpClient(timeout=10)
            )
        self.settings = settings
        self.client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )

    def url(self, path: str) -> str:
        return _url(self.settings.public_base_url, path)

    def create_call(
        self, *, to: str, from_: str, url: str, status_callback: str, timeout: int = 20
    ) -> str:
        """Place an outbound call whose TwiML comes from ``url``; returns the CallSid."""
        call = self.client.calls.create(
            to=to,
            from_=from_,
            url=self.url(url),
            method="POST",
            status_callback=self.url(status_callback),
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            status_callback_method="POST",
            timeout=timeout,
        )
        return str(call.sid)

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Move a live call (e.g. a queued caller) to new TwiML."""
        self.client.calls(call_sid).update(url=self.url(url), method="POST")

    def send_message(self, *, to: str, from_: str, body: str, status_callback: str) -> str:
        message = self.client.messages.create(
            to=to, from_=from_, body=body, status_callback=self.url(status_callback)
        )
        return str(message.sid)

    def find_sent_message(self, *, to: str, from_: str, body: str, since: datetime) -> str | None:
        """The SID of a text with this body that Twilio took from us since ``since`` (for a
        send whose answer was lost), or None. Twilio lists the newest first."""
        for message in self.client.messages.list(to=to, from_=from_, limit=50):
            created = message.date_created
            if created is not None and created < since:
                break
            if message.body == body or (message.body or "").endswith(body):
                return str(message.sid)
        return None

    def delete_recording(self, recording_sid: str) -> None:
        """Delete Twilio's copy of a recording; one already gone (404) counts as deleted."""
        from twilio.base.exceptions import TwilioRestException

        try:
            self.client.recordings(recording_sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise


_adapters: dict[int, TwilioAdapter] = {}


def get_adapter(settings: Settings) -> TwilioAdapter:
    """One adapter per settings object per process (the SDK client keeps a connection pool)."""
    key = id(settings)
    if key not in _adapters:
        _adapters[key] = TwilioAdapter(settings)
    return _adapters[key]
