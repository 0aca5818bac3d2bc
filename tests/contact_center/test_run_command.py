"""The README's run command starts web + worker on the embedded default with the demo practice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


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
        assert (tmp_path / "var" / "redis" / "redis.sock").exists()
    finally:
        from contact_center.embedded import stop_embedded_redis

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
