"""In Chromium, several people at once, as in a practice's real day: two coordinators and an
admin each logged in in their own browser, every console holding its live event stream. Ava
answers a call and books a consultation at wrap-up while Ben's console and the admin's
wallboard stay live: the wallboard follows without a reload, the admin sees the booking on the
day view, and Ben then takes the next call himself. Ava's browser runs on UTC, the practice in
Los Angeles: the screen pop's past contact shows the practice's clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments.models import Appointment
from contact_center.db import utcnow
from contact_center.models import Role
from ivr.models import Call, CallStatus, Direction
from routing.models import CallbackReason, CallbackStatus, CallbackTask
from tests.factories import make_practice
from tests.web.conftest import make_login, screenshot
from tests.web.test_browser import PATIENT, log_in

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.committed
LA = ZoneInfo("America/Los_Angeles")


def ring_and_choose_consultation(caller: Page, pid: int, from_number: str) -> None:
    caller.goto(f"/p/{pid}/try")
    caller.get_by_test_id("try-from").fill(from_number)
    caller.get_by_test_id("try-call").click()
    expect(caller.get_by_test_id("transcript")).to_contain_text("press 1 or say yes")
    caller.locator('#keypad button[data-key="1"]').click()
    expect(caller.get_by_test_id("transcript")).to_contain_text("For a new consultation, press 1")
    caller.locator('#keypad button[data-key="1"]').click()


def set_presence(console: Page, state: str) -> None:
    console.get_by_test_id("presence").select_option(state)
    expect(console.locator("#presence-dot")).to_have_class(re.compile(state))


def test_two_coordinators_and_an_admin_at_once(
    app: Flask, session: Session, redis: object, live_server: str, browser: Any
) -> None:
    practice = make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")
    pid = practice.id
    ava = make_login(session, practice, "ava")
    ben = make_login(session, practice, "ben")
    adele = make_login(session, practice, "adele", Role.ADMIN)
    catalog.add_service(session, pid, "Consultation", 30, "consultation")
    catalog.add_provider(session, pid, "Dr. Lee")
    # The patient called two days ago at 14:37 UTC, which is 6:37 AM at the practice.
    earlier = (utcnow() - timedelta(days=2)).replace(hour=14, minute=37, second=0, microsecond=0)
    session.add(
        Call(
            practice_id=pid,
            call_sid="CA" + "5" * 32,
            direction=Direction.INBOUND,
            from_number=PATIENT,
            to_number=practice.phone_number,
            status=CallStatus.COMPLETED,
            started_at=earlier,
        )
    )
    session.commit()

    errors: list[str] = []

    def open_as(email: str, zone: str = "America/Los_Angeles") -> tuple[Any, Page]:
        context = browser.new_context(
            base_url=live_server, viewport={"width": 1400, "height": 900}, timezone_id=zone
        )
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{email}: {exc}"))
        page.on(
            "console",
            lambda msg: errors.append(f"{email}: {msg.text}") if msg.type == "error" else None,
        )
        log_in(page, live_server, email)
        return context, page

    ava_context, ava_console = open_as(ava.email or "", zone="UTC")
    ben_context, ben_console = open_as(ben.email or "")
    adele_context, wallboard = open_as(adele.email or "")
    wallboard.goto(f"/p/{pid}/wallboard")
    for console in (ava_console, ben_console):
        expect(console.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    set_presence(ben_console, "away")
    set_presence(ava_console, "available")
    # The wallboard follows presence on its own (live events), no reload from us.
    expect(wallboard.get_by_test_id("presence-list")).to_contain_text(re.compile(r"Ava.*available"))

    caller = ava_context.new_page()  # the Try-it page: the patient's phone, in Ava's browser
    ring_and_choose_consultation(caller, pid, PATIENT)
    expect(ava_console.get_by_test_id("answer")).to_be_visible()
    expect(ben_console.get_by_test_id("answer")).to_be_hidden()  # Ben is away
    ava_console.get_by_test_id("answer").click()
    expect(ava_console.get_by_test_id("call-status")).to_have_text("On call")
    local = earlier.astimezone(LA).strftime("%-I:%M:%S %p")  # 6:37:00 AM
    expect(ava_console.locator("#pop-history")).to_contain_text(local)
    expect(ava_console.locator("#pop-history")).not_to_contain_text("2:37:00 PM")

    ava_console.get_by_test_id("hangup").click()
    expect(ava_console.get_by_test_id("wrapup")).to_be_visible()
    ava_console.get_by_test_id("outcome").select_option("booked_consultation")
    slot = ava_console.get_by_test_id("booking-slot")
    expect(slot.locator("option").nth(1)).to_contain_text("Dr. Lee")
    start = slot.locator("option").nth(1).get_attribute("value")
    slot.select_option(start)
    ava_console.get_by_test_id("save-outcome").click()
    expect(ava_console.get_by_test_id("outcome-booked")).to_contain_text("Appointment booked")
    screenshot(ava_console, "multi-01-ava-booked")

    # The admin's wallboard counted the call without a reload from us.
    expect(wallboard.get_by_test_id("calls-today")).to_have_text(
        "1" if earlier.astimezone(LA).date() != datetime.now(UTC).astimezone(LA).date() else "2"
    )
    screenshot(wallboard, "multi-02-wallboard")
    session.expire_all()
    booked = session.scalars(select(Appointment).where(Appointment.practice_id == pid)).one()
    assert booked.start_at.isoformat() == start
    day = booked.start_at.astimezone(LA).date().isoformat()
    day_view = adele_context.new_page()
    day_view.goto(f"/p/{pid}/appointments?day={day}")
    expect(day_view.get_by_test_id("appointment")).to_contain_text(PATIENT)

    # Ben's console stayed live all along: he takes the next call.
    set_presence(ava_console, "away")
    set_presence(ben_console, "available")
    second = ava_context.new_page()
    ring_and_choose_consultation(second, pid, "+13105550188")
    expect(ben_console.get_by_test_id("answer")).to_be_visible()
    ben_console.get_by_test_id("answer").click()
    expect(ben_console.get_by_test_id("call-status")).to_have_text("On call")
    expect(ava_console.get_by_test_id("answer")).to_be_hidden()
    screenshot(ben_console, "multi-03-ben-on-call")
    session.expire_all()
    answered = session.scalars(
        select(Call).where(Call.practice_id == pid, Call.from_number == "+13105550188")
    ).one()
    assert answered.answered_by_id == ben.id
    assert errors == []  # no script error, CSP violation or failed load in any console
    for context in (ava_context, ben_context, adele_context):
        context.close()


def test_a_callback_rows_call_and_book_buttons_are_the_same_size(
    app: Flask, session: Session, redis: object, live_server: str, browser: Any
) -> None:
    """The walk found "Book" (a link styled as a button) twice the size of "Call" beside it,
    wrapping the row: ``.button.small`` was not small."""
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    now = utcnow()
    session.add(
        CallbackTask(
            practice_id=practice.id,
            phone="+13105550177",
            reason=CallbackReason.MISSED_CALL,
            status=CallbackStatus.OPEN,
            due_at=now + timedelta(hours=2),
            sla_deadline=now + timedelta(hours=3),
            created_at=now,
        )
    )
    session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, live_server, ava.email or "")
    call = page.locator("button.dial").first
    book = page.get_by_test_id("callback-book").first
    expect(book).to_be_visible()
    call_box, book_box = call.bounding_box(), book.bounding_box()
    assert call_box is not None and book_box is not None
    assert abs(call_box["height"] - book_box["height"]) <= 2, (call_box, book_box)
    assert abs(call_box["y"] - book_box["y"]) <= 2  # side by side, not wrapped
    context.close()


def test_a_coordinator_with_two_console_tabs_wraps_up_once(
    app: Flask, session: Session, redis: object, live_server: str, browser: Any
) -> None:
    """Both of Ava's tabs ring; she answers and saves the outcome in one. The other tab used to
    keep an unsaved wrap-up form and show her in wrap-up while the server had her available."""
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    first = context.new_page()
    log_in(first, live_server, ava.email or "")
    second = context.new_page()
    second.goto(f"/p/{practice.id}/console")
    for tab in (first, second):
        expect(tab.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    set_presence(first, "available")
    expect(second.get_by_test_id("presence")).to_have_value("available")

    caller = context.new_page()
    ring_and_choose_consultation(caller, practice.id, PATIENT)
    expect(first.get_by_test_id("answer")).to_be_visible()
    first.get_by_test_id("answer").click()
    expect(first.get_by_test_id("call-status")).to_have_text("On call")
    first.get_by_test_id("hangup").click()
    expect(first.get_by_test_id("wrapup")).to_be_visible()
    first.get_by_test_id("outcome").select_option("follow_up")
    first.get_by_test_id("save-outcome").click()
    expect(first.get_by_test_id("outcome-saved")).to_be_visible()

    expect(second.get_by_test_id("wrapup")).to_be_hidden()
    expect(second.get_by_test_id("presence")).to_have_value("available")
    screenshot(second, "multi-04-second-tab-after-wrap-up")
    context.close()
