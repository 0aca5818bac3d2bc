"""In Chromium: every console page works under the Content-Security-Policy (no violation), and
the Twilio Voice SDK loads its sounds from our static files, never from Twilio's CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.web.test_access import PracticeData, practice_data
from tests.web.test_browser import log_in

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.committed

WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def glow(session: Session) -> PracticeData:
    data = practice_data(session, "Glow Aesthetics", "g")
    session.commit()
    return data


def _violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found


def test_every_page_runs_under_the_content_security_policy(
    browser: Any, live_server: str, glow: PracticeData
) -> None:
    context = browser.new_context(base_url=live_server)
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    log_in(page, live_server, glow.admin.email or "")
    pid = glow.practice.id
    for path, ready in (
        (f"/p/{pid}/console", "device-state"),
        (f"/p/{pid}/inbox?c={glow.conversation.id}", "reply-body"),
        (f"/p/{pid}/qa", "call-list"),
        (f"/p/{pid}/wallboard", "calls-today"),
        (f"/p/{pid}/settings", "settings-form"),
        (f"/p/{pid}/try", "try-sms"),
    ):
        page.goto(path)
        expect(page.get_by_test_id(ready)).to_be_visible()
        if "console" not in path:  # the console's event stream never lets the network idle
            page.wait_for_load_state("networkidle")
        assert _violations(page) == [], path
    page.goto(f"/p/{pid}/console")
    expect(page.get_by_test_id("device-state")).to_have_text("ready · sandbox")  # scripts ran
    page.goto(f"/p/{pid}/calls/{glow.call.id}")
    expect(page.get_by_text(glow.call.from_number).first).to_be_visible()
    assert _violations(page) == []
    assert errors == []
    context.close()


def test_the_voice_sdk_fetches_its_sounds_from_our_static_files(
    browser: Any, live_server: str, glow: PracticeData
) -> None:
    context = browser.new_context(base_url=live_server)
    context.route(re.compile(r"https?://([^/]+\.)?twilio\.com/.*"), lambda route: route.abort())
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    log_in(page, live_server, glow.coordinator.email or "")
    page.goto(f"/p/{glow.practice.id}/console")
    expect(page.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    # What softphone.js does outside the sandbox: a real Twilio.Device with the console's sounds.
    page.evaluate(
        """async () => {
          const cfg = JSON.parse(document.getElementById("console-config").textContent);
          const token = await window.CC.api(cfg.base + "/api/token");
          const device = new window.Twilio.Device(token.token, { sounds: cfg.sounds });
          window.__device = device;
        }"""
    )
    page.wait_for_timeout(2000)
    ours = {u.split("/static/sounds/")[1] for u in requested if "/static/sounds/" in u}
    assert "incoming.wav" in ours, requested
    assert [u for u in requested if "sdk.twilio.com" in u or "/sounds/releases/" in u] == []
    page.evaluate("window.__device.destroy()")
    context.close()
