"""Open consoles cost no request capacity: with many server-sent-events streams open against the
web server started as production (Procfile) and ``make run`` start it, Twilio's voice webhook is
still answered (Twilio gives up after 15 s and the caller hears an error).

Before gevent workers, each stream pinned one of gunicorn's sync workers (or threads): with four
consoles open the webhook got no answer at all.
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy.orm import Session

from contact_center.run import web_command
from contact_center.twilio import sign
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ROOT, TEST_DATABASE_URL, TEST_REDIS_URL
from tests.factories import make_practice
from tests.web.conftest import PASSWORD, csrf_from, make_login

pytestmark = pytest.mark.committed

STREAMS = 24  # more than the old servers' capacity: Procfile 4 sync workers, make run 2 x 4
TWILIO_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def procfile_web(port: int) -> list[str]:
    """The Procfile's ``web`` command, as a process manager would run it on ``port``."""
    line = next(
        line.split(":", 1)[1]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    argv = shlex.split(line.replace("${PORT:-5000}", str(port)))
    argv[0] = str(Path(sys.executable).parent / argv[0])
    return argv


def make_run_web(port: int) -> list[str]:
    return web_command("127.0.0.1", port)


@pytest.fixture(params=[procfile_web, make_run_web], ids=["procfile", "make-run"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": base,
        "SECRET_KEY": "streams-test",
        "VAR_DIR": str(tmp_path),
    }
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(
        request.param(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def log_in(base: str, email: str) -> str:
    """Log in over HTTP; returns the session cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = csrf_from(opener.open(base + "/login", timeout=10).read().decode())
    form = urlencode({"email": email, "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(base + "/login", data=form, timeout=10).close()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    assert "session=" in cookies, "login failed"
    return cookies


def open_stream(base: str, path: str, cookie: str) -> http.client.HTTPConnection:
    """A console's event stream, opened and left open (its first event read)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TWILIO_TIMEOUT_S)
    try:
        conn.request("GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = b""
        while b"event: hello" not in first:
            chunk = response.read1(4096)
            assert chunk, first
            first += chunk
    except BaseException:
        conn.close()
        raise
    return conn


def test_voice_webhook_answers_with_consoles_streaming(server: str, session: Session) -> None:
    number = "+14155557711"
    practice = make_practice(session, number=number)
    user = make_login(session, practice, "streamer")
    session.commit()
    cookie = log_in(server, str(user.email))

    streams = []
    try:
        for _ in range(STREAMS):
            streams.append(open_stream(server, f"/p/{practice.id}/events", cookie))

        url = server + "/twilio/voice/incoming"
        form = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": "CA" + "7" * 32,
            "From": "+13105550177",
            "To": number,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        started = time.monotonic()
        request = urllib.request.Request(
            url,
            data=urlencode(form).encode(),
            headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)},
        )
        try:
            with urllib.request.urlopen(request, timeout=TWILIO_TIMEOUT_S) as response:
                status, body = response.status, response.read().decode()
        except (TimeoutError, urllib.error.URLError) as error:
            pytest.fail(f"no answer within Twilio's {TWILIO_TIMEOUT_S:.0f} s: {error!r}")
        elapsed = time.monotonic() - started
        assert status == 200
        assert re.search(r"<Response>.*<(Say|Play|Gather)", body, re.S), body
        assert elapsed < TWILIO_TIMEOUT_S

        # The console pages themselves still load beside the streams.
        page = urllib.request.Request(f"{server}/p/{practice.id}/console")
        page.add_header("Cookie", cookie)
        with urllib.request.urlopen(page, timeout=TWILIO_TIMEOUT_S) as response:
            assert response.status == 200
    finally:
        for conn in streams:
            conn.close()
