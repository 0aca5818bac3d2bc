"""Run the whole product locally: ``python -m contact_center.run`` (what ``make run`` does).

Migrates the database, seeds the demo practice, starts the embedded Redis when no REDIS_URL is
set, then runs the web server (gunicorn) and a worker side by side and prints the URL.
Ctrl-C or SIGTERM stops the web server, the worker and the embedded Redis. A port already in
use (``PORT``, default 5000) is reported and nothing is started.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from contact_center.settings import EMBEDDED_REDIS, Settings

ROOT = Path(__file__).resolve().parent.parent


def _wait_healthy(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def web_command(host: str, port: int) -> list[str]:
    """The demo's web server: gunicorn with the production settings (gunicorn.conf.py, gevent
    workers, so open consoles' event streams cost no request capacity), two processes."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return [
        gunicorn,
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--workers",
        "2",
        "--bind",
        f"{host}:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ]


def port_taken(host: str, port: int) -> bool:
    """True when another program already listens on ``host:port``."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument(
        "--check", action="store_true", help="start, check both processes are up, then stop"
    )
    args = parser.parse_args(argv)
    if port_taken(args.host, args.port):
        print(
            f"port {args.port} on {args.host} is already in use by another program; "
            f"choose another port, e.g. PORT={args.port + 1} make run",
            file=sys.stderr,
        )
        return 1

    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"http://{args.host}:{args.port}")
    settings = Settings.from_env(env)
    children: list[subprocess.Popen[bytes]] = []
    embedded_redis = settings.redis_url == EMBEDDED_REDIS

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if embedded_redis:  # started (or reused) for this run: stop it with the run
            from contact_center.embedded import stop_embedded_redis

            stop_embedded_redis(settings.var_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # one way out, through ``finally: stop()``

    # Ctrl-C (SIGINT), SIGTERM from a process manager and SIGHUP from a closed terminal all
    # stop the web server, the worker and the embedded Redis.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        if embedded_redis:
            from contact_center.embedded import ensure_embedded_redis

            env["REDIS_URL"] = ensure_embedded_redis(settings.var_dir)
            settings = Settings.from_env(env)

        from contact_center import clock, create_app, demo
        from contact_center.cli import upgrade_database
        from contact_center.db import session_scope

        upgrade_database(settings.database_url)
        create_app(settings)
        with session_scope() as session:
            print(demo.seed(session, clock.now()), flush=True)

        web = subprocess.Popen(web_command(args.host, args.port), cwd=ROOT, env=env)
        children.append(web)
        # The demo's worker rings the console's sandbox softphone for the dialer's calls.
        worker = subprocess.Popen(
            [sys.executable, "-m", "contact_center.worker"],
            cwd=ROOT,
            env={**env, "SANDBOX_SOFTPHONES": "1"},
        )
        children.append(worker)
        url = f"http://{args.host}:{args.port}"
        if not _wait_healthy(url, 60) or web.poll() is not None:
            print("the web server did not start; see the messages above", file=sys.stderr)
            return 1
        mode = (
            "sandbox (no Twilio credentials: REST requests are recorded, not sent)"
            if (settings.sandbox)
            else "live Twilio"
        )
        print(
            f"\nContact center running at {url}\n"
            f"  demo practice: {demo.DEMO_NAME} {demo.DEMO_NUMBER}\n"
            f"  database: {settings.database_url}\n  mode: {mode}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        if args.check:
            time.sleep(2)
            alive = web.poll() is None and worker.poll() is None
            print("web and worker are up" if alive else "a process exited early", flush=True)
            return 0 if alive else 1
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the cleanup
        stop()


if __name__ == "__main__":
    sys.exit(main())
