"""A local stand-in for Twilio's API host serving recording media, for download tests.

It answers ``GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.wav`` with HTTP
Basic auth (account SID and auth token) like Twilio, and can be told to fail, redirect, omit
Content-Length or stall. Tests point ``Settings.twilio_api_base`` at it; webhooks keep naming
``https://api.twilio.com``.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np

from contact_center import runtime

_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w{32})/Recordings/(RE\w{32})\.wav$")


def tone_wav(seconds: float = 1.0, rate: int = 8000, channels: int = 2) -> bytes:
    """A small 16-bit PCM WAV (a tone per channel), shaped like a Twilio recording."""
    t = np.arange(int(seconds * rate)) / rate
    tracks = [np.sin(2 * np.pi * (300 + 200 * c) * t) * 8000 for c in range(channels)]
    frames = np.stack(tracks, axis=1).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


@dataclass
class Seen:
    path: str
    query: str
    authorized: bool


@dataclass
class MediaStandIn:
    account_sid: str
    auth_token: str
    media: dict[str, bytes] = field(default_factory=dict)
    default_media: bytes | None = None
    fail_next: int = 0
    redirect_to: str | None = None
    declare_length: bool = True
    stall_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def body_for(self, recording_sid: str) -> bytes | None:
        return self.media.get(recording_sid, self.default_media)


def _handler(state: MediaStandIn) -> type[BaseHTTPRequestHandler]:
    expected = (
        "Basic " + base64.b64encode(f"{state.account_sid}:{state.auth_token}".encode()).decode()
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            authorized = self.headers.get("Authorization") == expected
            state.seen.append(Seen(parts.path, parts.query, authorized))
            match = _PATH.match(parts.path)
            if not authorized:
                self._reply(401, b'{"code": 20003, "message": "Authenticate"}')
            elif state.fail_next > 0:
                state.fail_next -= 1
                self._reply(503, b"upstream trouble")
            elif state.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.end_headers()
            elif (
                match is None
                or match.group(1) != state.account_sid
                or (body := state.body_for(match.group(2))) is None
            ):
                self._reply(404, b'{"code": 20404}')
            else:
                if state.stall_s:
                    time.sleep(state.stall_s)
                self._reply(200, body, "audio/x-wav")

        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if state.declare_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(account_sid: str, auth_token: str) -> Iterator[MediaStandIn]:
    """Run the stand-in on a free loopback port for the duration of the block."""
    state = MediaStandIn(account_sid, auth_token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def installed(**overrides: object) -> Iterator[None]:
    """Run jobs with these settings overrides (the worker's settings), restored afterwards."""
    original = runtime.current_settings()
    runtime.install(original.with_overrides(**overrides))
    try:
        yield
    finally:
        runtime.install(original)
