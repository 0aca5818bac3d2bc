"""Click to dial in the console, in real Chromium: "Call" on a callback places the call
through the product's TwiML App endpoint (the sandbox plays Twilio and the patient), and the
callback is recorded as a connected attempt when the coordinator hangs up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.db import utcnow
from routing import dialer
from routing.dialer_models import AttemptOutcome, AttemptState
from routing.models import CallbackReason, CallbackStatus, CallbackTask, Presence, PresenceState
from tests.dialer.support import allow_daytime_countries, attempts, patient_in_daytime
from tests.factories import make_practice
from tests.web.conftest import make_login, screenshot
from tests.web.test_browser import log_in

pytestmark = pytest.mark.committed


def test_call_on_a_callback_dials_the_patient_and_records_the_attempt(
    app: Flask, session: Session, redis: object, live_server: str, browser: Any
) -> None:
    practice = make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")
    ava = make_login(session, practice, "ava")
    phone = patient_in_daytime()
    task, _ = dialer.open_callback(session, practice, phone, CallbackReason.LEAD, utcnow())
    session.commit()

    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    console = context.new_page()
    log_in(console, live_server, ava.email or "")
    expect(console.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    row = console.get_by_test_id("callbacks").locator("tr", has_text=phone)
    row.get_by_role("button", name="Call").click()
    expect(console.get_by_test_id("call-status")).to_have_text("On call")
    expect(console.locator("#presence-dot")).to_have_class(re.compile("reserved"))
    screenshot(console, "20-click-to-dial-on-call")
    session.expire_all()
    (attempt,) = attempts(session, task.id)
    assert (attempt.state, attempt.coordinator_id) == (AttemptState.BRIDGING, ava.id)
    assert session.get_one(Presence, ava.id).state is PresenceState.RESERVED

    console.get_by_test_id("hangup").click()
    expect(console.get_by_test_id("call-status")).to_have_text(re.compile("Call ended"))
    expect(console.locator("#presence-dot")).to_have_class(re.compile("available"))
    session.expire_all()
    (attempt,) = attempts(session, task.id)
    assert (attempt.state, attempt.outcome) == (AttemptState.DONE, AttemptOutcome.CONNECTED)
    assert session.get_one(CallbackTask, task.id).status is CallbackStatus.DONE
    assert session.get_one(Presence, ava.id).state is not PresenceState.RESERVED

    # Clicking again: the callback is closed, the product refuses and says why.
    row.get_by_role("button", name="Call").click()
    expect(console.get_by_test_id("call-status")).to_contain_text("already closed")
    context.close()


def test_the_dialers_call_rings_the_sandbox_softphone(
    app: Flask, session: Session, redis: Any, live_server: str, browser: Any
) -> None:
    """The demo's speed-to-lead path: a web form on Try it, the dialer rings the coordinator's
    sandbox softphone, she answers, hears the announcement, talks to the patient, hangs up."""
    from contact_center.web.sandbox import ring_placed_calls
    from tests.conftest import drain_queues

    practice = make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")
    ava = make_login(session, practice, "ava")
    allow_daytime_countries(session, practice)  # the form's number may be abroad (see support)
    session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    console = context.new_page()
    log_in(console, live_server, ava.email or "")
    expect(console.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    console.get_by_test_id("presence").select_option("available")
    expect(console.locator("#presence-dot")).to_have_class(re.compile("available"))

    patient = context.new_page()  # the patient fills in the practice's web form on Try it
    patient.goto(f"/p/{practice.id}/try")
    patient.get_by_test_id("try-from").fill(patient_in_daytime())
    patient.get_by_test_id("try-lead").get_by_label("Name").fill("Maya Lopez")
    patient.get_by_test_id("try-lead").get_by_role("button", name="Send the form").click()
    expect(patient.get_by_test_id("lead-result")).to_contain_text("accepted: text queued")
    session.expire_all()
    task_id = session.scalars(select(CallbackTask.id)).one()
    stop_ringing = ring_placed_calls()  # what `make run` does in its worker
    try:
        with app.app_context():
            drain_queues(redis)  # the text, the dial, and the sandbox ringing the softphone
    finally:
        stop_ringing()
    expect(console.get_by_test_id("answer")).to_be_visible()
    expect(console.get_by_test_id("pop-name")).to_have_text("Maya Lopez")  # who is called back
    expect(console.get_by_test_id("screen-pop")).to_contain_text("callback: web lead")
    screenshot(console, "21-dialer-rings-softphone")
    console.get_by_test_id("answer").click()
    expect(console.get_by_test_id("hangup")).to_be_visible()
    session.expire_all()
    (attempt,) = attempts(session, task_id)
    assert attempt.state is AttemptState.BRIDGING  # the patient was dialed
    console.get_by_test_id("hangup").click()
    expect(console.get_by_test_id("hangup")).to_be_hidden()
    expect(console.get_by_test_id("wrapup")).to_be_hidden()  # the outcome is the attempt's
    session.expire_all()
    (attempt,) = attempts(session, task_id)
    assert (attempt.state, attempt.outcome) == (AttemptState.DONE, AttemptOutcome.CONNECTED)
    assert session.get_one(CallbackTask, task_id).status is CallbackStatus.DONE
    context.close()
