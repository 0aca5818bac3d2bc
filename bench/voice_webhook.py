"""Latency and throughput of POST /twilio/voice/incoming under gunicorn against PostgreSQL,
beside a bare Flask endpoint returning constant TwiML, measured in the same run.

    .venv/bin/python bench/voice_webhook.py [--connections 100] [--seconds 10] [--streams 200]

Both apps run under gunicorn with the production settings (gunicorn.conf.py: gevent workers).
The webhook is measured twice on the same server: alone, then with ``--streams`` console
server-sent-events streams held open beside the load (logged-in consoles, as coordinators keep
them all day).

Needs `wrk` (Debian package; installed if missing) and PostgreSQL. Uses the database named by
BENCH_DATABASE_URL (default: test_bench on 127.0.0.1, created if missing; its schema is reset) and
BENCH_REDIS_URL (default: Redis db 10).
Targets: p99 under 50 ms at 100 concurrent requests, and at least half the bare endpoint's
throughput (issue 2); open streams change the webhook's p99 by less than 10% (issue 10).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import fresh_database  # noqa: E402
from contact_center.twilio import sign  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
AUTH_TOKEN = "bench-auth-token"
ACCOUNT_SID = "AC" + "3" * 32
NUMBER = "+14155550199"
STREAM_EMAIL = "streams@bench.example"
STREAM_PASSWORD = "bench-streams-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk") or "wrk"


def prepare_database() -> None:
    fresh_database(DB_URL)
    env = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL}
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    for args in (
        [
            "practice",
            "create",
            "--name",
            "Bench Aesthetics",
            "--number",
            NUMBER,
            "--timezone",
            "America/Los_Angeles",
            "--hours",
            "mon-sun 00:00-24:00",
        ],
        [
            "coordinator",
            "create",
            "--practice",
            "Bench Aesthetics",
            "--name",
            "A",
            "--identity",
            "a",
        ],
    ):
        subprocess.run(
            flask + args,
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def signed_requests(base_url: str, count: int, path: Path) -> None:
    url = base_url + "/twilio/voice/incoming"
    with path.open("w") as out:
        for n in range(count):
            form = {
                "AccountSid": ACCOUNT_SID,
                "CallSid": "CA" + secrets.token_hex(16),
                "From": f"+1310555{n % 10000:04d}",
                "To": NUMBER,
                "CallStatus": "ringing",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
            }
            out.write(f"{sign(AUTH_TOKEN, url, form)}\t{urlencode(form)}\n")


def serve(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``app`` under gunicorn as production runs it (gunicorn.conf.py), on ``port``."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    cmd = [
        gunicorn,
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "error",
    ]
    proc = subprocess.Popen(cmd + [app], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120  # a loaded machine starts four workers slowly
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # the bare app has no /healthz: it is up
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def create_console_login(env: dict[str, str]) -> int:
    """A coordinator with a console password; returns the practice id."""
    from contact_center import auth, create_app
    from contact_center.db import session_scope, utcnow
    from contact_center.models import Practice, Role
    from contact_center.settings import Settings

    create_app(Settings.from_env(env))
    with session_scope() as session:
        practice = session.query(Practice).filter_by(name="Bench Aesthetics").one()
        auth.create_login(
            session,
            practice,
            name="Stream Tester",
            identity="streams",
            email=STREAM_EMAIL,
            role=Role.COORDINATOR,
            password=STREAM_PASSWORD,
            now=utcnow(),
        )
        return practice.id


def log_in(base: str) -> str:
    """Log in over HTTP as a console does; returns the Cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "login page has no CSRF token"
    form = {"email": STREAM_EMAIL, "password": STREAM_PASSWORD, "csrf_token": match.group(1)}
    opener.open(base + "/login", data=urlencode(form).encode(), timeout=10).close()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def open_streams(port: int, path: str, cookie: str, count: int) -> list[socket.socket]:
    """``count`` event streams, each opened and its first event read, then left open."""
    streams: list[socket.socket] = []
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=15)
            streams.append(sock)
            sock.sendall(request)
            seen = b""
            while b"event: hello" not in seen:
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError(f"stream closed: {seen[:200]!r}")
                seen += chunk
            if not seen.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"stream refused: {seen[:200]!r}")
    except BaseException:
        for sock in streams:
            sock.close()
        raise
    return streams


def run_wrk(wrk: str, port: int, lines: Path, connections: int, seconds: int) -> dict[str, float]:
    threads = 2
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(ROOT / "bench" / "wrk_signed.lua"),
            f"http://127.0.0.1:{port}",
            "--",
            str(lines),
            "/twilio/voice/incoming",
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"RESULT (.*)", out)
    if not match:
        raise RuntimeError(out)
    values = {k: float(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    values["rps"] = values["requests"] / (values["duration_us"] / 1e6)
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    wrk = ensure_wrk()
    prepare_database()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, app in (("bare", "bench.bare_app:app"), ("incoming", "wsgi:app")):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            lines = Path(tmp) / f"{name}.txt"
            signed_requests(base, 40_000, lines)
            env = {
                **os.environ,
                "DATABASE_URL": DB_URL,
                "REDIS_URL": REDIS_URL,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "PUBLIC_BASE_URL": base,
                "SECRET_KEY": "bench",
                "VAR_DIR": tmp,
            }
            proc = serve(app, port, args.workers, env)
            try:
                run_wrk(wrk, port, lines, args.connections, 2)  # warm-up
                results[name] = run_wrk(wrk, port, lines, args.connections, args.seconds)
                if name == "incoming" and args.streams:
                    practice_id = create_console_login(env)
                    cookie = log_in(base)
                    path = f"/p/{practice_id}/events"
                    streams = open_streams(port, path, cookie, args.streams)
                    try:
                        results["streams"] = run_wrk(
                            wrk, port, lines, args.connections, args.seconds
                        )
                    finally:
                        for sock in streams:
                            sock.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    print(
        f"voice webhook benchmark: {args.connections} connections, {args.seconds} s, "
        f"gunicorn {args.workers} gevent workers (gunicorn.conf.py), {os.cpu_count()} cores"
    )
    print(
        f"{'endpoint':<42}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'req/s':>10}{'non-2xx':>9}{'errors':>8}"
    )
    rows = [
        ("bare", "bare Flask constant TwiML"),
        ("incoming", "/twilio/voice/incoming"),
        ("streams", f"/twilio/voice/incoming, {args.streams} streams open"),
    ]
    for name, label in rows:
        if name not in results:
            continue
        r = results[name]
        print(
            f"{label:<42}{r['p50_us'] / 1000:>9.1f}{r['p90_us'] / 1000:>9.1f}"
            f"{r['p99_us'] / 1000:>9.1f}{r['rps']:>10.0f}{r['non2xx']:>9.0f}{r['errors']:>8.0f}"
        )
    bare_rps = results["bare"]["rps"]
    ratio = results["incoming"]["rps"] / bare_rps
    p99 = results["incoming"]["p99_us"] / 1000
    print(
        f"throughput ratio incoming/bare: {ratio:.2f} (target >= 0.50: "
        f"{'met' if ratio >= 0.5 else 'missed'})"
    )
    print(f"p99 incoming: {p99:.1f} ms (target < 50 ms: {'met' if p99 < 50 else 'missed'})")
    if "streams" in results:
        with_streams = results["streams"]
        p99_s = with_streams["p99_us"] / 1000
        change = (p99_s - p99) / p99
        print(
            f"with {args.streams} streams: p99 {p99_s:.1f} ms ({change:+.1%} vs none; target "
            f"< +10%: {'met' if change < 0.10 else 'missed'}), throughput ratio to bare "
            f"{with_streams['rps'] / bare_rps:.2f} (none: {ratio:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
