"""Security headers, no-store on patient data, and the softphone's sounds served by us."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from contact_center.web.pages import SOFTPHONE_SOUNDS
from tests.web.conftest import log_in
from tests.web.test_access import PracticeData, practice_data

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "contact_center" / "templates"
SOUNDS = ROOT / "contact_center" / "static" / "sounds"


@pytest.fixture
def glow(session: Session) -> PracticeData:
    return practice_data(session, "Glow Aesthetics", "g")


def test_pages_and_json_carry_the_security_headers_and_are_not_stored(
    app: Flask, glow: PracticeData
) -> None:
    pid = glow.practice.id
    client = app.test_client()
    log_in(client, glow.admin.email or "")
    for path in (
        "/login",
        f"/p/{pid}/console",
        f"/p/{pid}/inbox",
        f"/p/{pid}/qa",
        f"/p/{pid}/calls/{glow.call.id}",
        f"/p/{pid}/wallboard",
        f"/p/{pid}/settings",
        f"/p/{pid}/api/screen-pop?call_sid={glow.call.call_sid}",
        f"/p/{pid}/api/callbacks",
        f"/p/{pid}/api/wallboard",
        "/api/callbacks/breaches",
    ):
        response = client.get(path)
        assert response.status_code in (200, 403), path
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "no-store" in headers["Cache-Control"], path


def test_static_files_keep_their_caching(app: Flask) -> None:
    response = app.test_client().get("/static/js/common.js")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_templates_have_no_inline_script_style_or_handler() -> None:
    """What the policy would block: inline code, inline handlers, style attributes."""
    problems = []
    for template in sorted(TEMPLATES.glob("*.html")):
        html = template.read_text()
        for match in re.finditer(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", html, re.S):
            data_block = 'type="application/json"' in match["attrs"]
            if match["body"].strip() and not data_block:
                problems.append(f"{template.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", html):
            problems.append(f"{template.name}: inline event handler")
        if re.search(r"\sstyle\s*=", html) or "<style" in html:
            problems.append(f"{template.name}: inline style")
    assert problems == []


def test_the_console_gives_the_voice_sdk_our_own_sounds(app: Flask, glow: PracticeData) -> None:
    client = app.test_client()
    log_in(client, glow.coordinator.email or "")
    page = client.get(f"/p/{glow.practice.id}/console").get_data(as_text=True)
    # Every sound the vendored SDK would fetch from Twilio's CDN (its defaultSounds).
    sdk = (ROOT / "contact_center" / "static" / "vendor" / "twilio.min.js").read_text()
    defaults = re.search(r"defaultSounds=\{(.*?)\};return Device", sdk)
    assert defaults is not None
    names = set(re.findall(r"(\w+):\{filename:", defaults.group(1)))
    assert names == set(SOFTPHONE_SOUNDS)
    for name, file in SOFTPHONE_SOUNDS.items():
        url = f"/static/sounds/{file}.wav"
        assert f'"{name}": "{url}"' in page
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype in ("audio/wav", "audio/x-wav")
        response.close()
        with wave.open(str(SOUNDS / f"{file}.wav")) as audio:
            assert audio.getnframes() > 0 and audio.getframerate() == 8000
    softphone = (ROOT / "contact_center" / "static" / "js" / "softphone.js").read_text()
    assert "sounds: cfg.sounds" in softphone


def test_the_sound_files_are_what_the_script_makes(tmp_path: Path) -> None:
    import runpy

    script = runpy.run_path(str(ROOT / "scripts" / "make-softphone-sounds.py"))
    script["main"](tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in SOUNDS.iterdir())
    for name in made:
        assert (tmp_path / name).read_bytes() == (SOUNDS / name).read_bytes(), name
