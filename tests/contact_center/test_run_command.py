"""The README's run command starts web + worker on the embedded default with the demo practice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contact_center.embedded import _alive, stop_embedded_redis
from tests.conftest import ROOT, TEST_DATABASE_URL


def test_run_command_serves_on_sqlite_and_embedded_redis(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    }
    env["VAR_DIR"] = str(tmp_path / "var")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "contact_center.run", "--port", str(port), "--check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Contact center running at http://127.0.0.1:{port}" in result.stdout
        assert "demo practice created: Glow Aesthetics +14155550100" in result.stdout
        assert "web and worker are up" in result.stdout
        assert (tmp_path / "var" / "contact_center.sqlite3").exists()
        # The embedded Redis ran for the check, and stopped with it.
        assert (tmp_path / "var" / "redis" / "redis.log").exists()
        assert not _alive(tmp_path / "var" / "redis" / "redis.sock")
    finally:
        stop_embedded_redis(tmp_path / "var")


def test_production_without_settings_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SECRET_KEY")}
    env.update(
        APP_ENV="production", DATABASE_URL="postgresql+psycopg://db/cc", VAR_DIR=str(tmp_path)
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "practice", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "configuration error: missing required settings for production: REDIS_URL, "
        "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, SECRET_KEY"
    ), result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _embedded_env(var: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    }
    env["VAR_DIR"] = str(var)
    return env


def test_run_command_with_the_port_taken_says_so_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as other:  # someone else's server on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "contact_center.run", "--check"],
            cwd=ROOT,
            env={**_embedded_env(tmp_path / "var"), "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr, result.stderr
    assert f"PORT={port + 1} make run" in result.stderr
    assert "running at" not in result.stdout  # no URL that belongs to someone else
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()  # nothing started


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_stopping_the_run_command_stops_web_worker_and_embedded_redis(
    tmp_path: Path, signum: int
) -> None:
    from tests.workers import descendants

    var = tmp_path / "var"
    port = _free_port()
    run = subprocess.Popen(
        [sys.executable, "-m", "contact_center.run", "--port", str(port)],
        cwd=ROOT,
        env=_embedded_env(var),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert run.stdout is not None
        seen = ""
        deadline = time.monotonic() + 120
        while "Press Ctrl-C to stop." not in seen:
            line = run.stdout.readline()
            assert line and time.monotonic() < deadline, seen
            seen += line
        children = descendants(run.pid)
        assert children, "web and worker are running"
        assert _alive(var / "redis" / "redis.sock")

        run.send_signal(signum)
        assert run.wait(timeout=60) == 0
        assert not _alive(var / "redis" / "redis.sock"), "the embedded Redis still answers"
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in children):
            leftover = [pid for pid in children if Path(f"/proc/{pid}").exists()]
            zombies = [
                pid
                for pid in leftover
                if (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
            ]
            if leftover == zombies:
                break
            assert time.monotonic() < deadline, f"still running: {leftover}"
            time.sleep(0.2)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if run.stdout is not None:
            run.stdout.close()
        stop_embedded_redis(var)


@pytest.mark.parametrize(
    "args",
    [["practice", "list"], ["coordinator", "presence", "ava", "available"], ["seed-demo"]],
    ids=["practice-list", "coordinator-presence", "seed-demo"],
)
def test_admin_commands_on_an_unmigrated_database_say_to_upgrade(
    tmp_path: Path, args: list[str]
) -> None:
    env = _embedded_env(tmp_path)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",  # not needed: the schema check comes first
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: the database has no schema yet: run flask --app wsgi db upgrade first"
    ]


def test_admin_commands_on_an_unmigrated_postgresql_database_say_to_upgrade(
    tmp_path: Path,
) -> None:
    from sqlalchemy import create_engine, text

    base, name = TEST_DATABASE_URL.rsplit("/", 1)
    empty = f"{name}_unmigrated"
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{empty}"'))
        conn.execute(text(f'CREATE DATABASE "{empty}"'))
    try:
        env = _embedded_env(tmp_path)
        env.update(DATABASE_URL=f"{base}/{empty}", REDIS_URL="redis://127.0.0.1:1/0")
        result = subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "practice", "list"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "error: the database has no schema yet: run flask --app wsgi db upgrade first"
        ]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)'))
        admin.dispose()
