"""In Chromium: a coordinator answers a call, books a consultation from the wrap-up form, and
sees it on the day view (the issue's failing case: "Booked consultation" at wrap-up)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from contact_center.models import Practice
from ivr.models import Call
from qa.models import CallOutcome, Disposition
from tests.factories import make_practice
from tests.web.conftest import make_login, screenshot
from tests.web.test_browser import PATIENT, log_in

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.committed


@pytest.fixture
def glow(session: Session) -> dict[str, Any]:
    practice: Practice = make_practice(session, name="Glow Aesthetics", hours="mon-sun 00:00-24:00")
    ava = make_login(session, practice, "ava")
    consult = catalog.add_service(session, practice.id, "Consultation", 30, "consultation")
    catalog.add_service(session, practice.id, "Botox", 45, "treatment")
    lee = catalog.add_provider(session, practice.id, "Dr. Lee")
    session.commit()
    return {"practice": practice, "ava": ava, "consult": consult, "lee": lee}


def test_answer_a_call_book_a_consultation_at_wrap_up_and_see_it_on_the_day(
    app: Flask,
    session: Session,
    redis: object,
    live_server: str,
    browser: Any,
    glow: dict[str, Any],
) -> None:
    pid = glow["practice"].id
    context = browser.new_context(base_url=live_server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    console = context.new_page()
    log_in(console, live_server, glow["ava"].email or "")
    expect(console.get_by_test_id("device-state")).to_have_text("ready · sandbox")
    console.get_by_test_id("presence").select_option("available")
    expect(console.locator("#presence-dot")).to_have_class(re.compile("available"))

    caller = context.new_page()
    caller.goto(f"/p/{pid}/try")
    caller.get_by_test_id("try-call").click()
    expect(caller.get_by_test_id("transcript")).to_contain_text("press 1 or say yes")
    caller.locator('#keypad button[data-key="1"]').click()
    expect(caller.get_by_test_id("transcript")).to_contain_text("For a new consultation, press 1")
    caller.locator('#keypad button[data-key="1"]').click()
    expect(console.get_by_test_id("answer")).to_be_visible()
    console.get_by_test_id("answer").click()
    expect(console.get_by_test_id("call-status")).to_have_text("On call")
    console.get_by_test_id("hangup").click()
    expect(console.get_by_test_id("wrapup")).to_be_visible()

    # The failing case: "Booked consultation" now opens the booking form.
    console.get_by_test_id("outcome").select_option("booked_consultation")
    booking = console.get_by_test_id("booking")
    expect(booking).to_be_visible()
    service = console.get_by_test_id("booking-service")
    expect(service.locator("option")).to_have_count(2)  # "Choose…" and the one consultation
    expect(service).to_have_value(str(glow["consult"].id))  # the only one: preselected
    slot = console.get_by_test_id("booking-slot")
    expect(slot.locator("option").nth(1)).to_contain_text("Dr. Lee")
    chosen = slot.locator("option").nth(2)
    label = chosen.inner_text().split(" · ")[0]
    start = chosen.get_attribute("value")
    slot.select_option(start)
    screenshot(console, "appointments-01-wrap-up-booking")
    console.get_by_test_id("save-outcome").click()
    expect(console.get_by_test_id("outcome-saved")).to_be_visible()
    expect(console.locator("#wrapup-error")).to_be_hidden()
    expect(console.get_by_test_id("outcome-booked")).to_contain_text("Appointment booked")

    session.expire_all()
    call = session.scalars(select(Call).where(Call.practice_id == pid)).one()
    appointment = session.scalars(select(Appointment).where(Appointment.practice_id == pid)).one()
    assert appointment.call_id == call.id and appointment.source is AppointmentSource.CALL
    assert appointment.status is AppointmentStatus.BOOKED
    assert appointment.provider_id == glow["lee"].id
    assert appointment.start_at.isoformat() == start
    outcome = session.scalars(select(CallOutcome).where(CallOutcome.call_id == call.id)).one()
    assert outcome.disposition is Disposition.BOOKED_CONSULTATION
    assert outcome.booked_for == appointment.start_at

    console.get_by_test_id("booked-day-link").click()
    expect(console).to_have_url(re.compile(rf"/p/{pid}/appointments\?day="))
    row = console.get_by_test_id("appointment")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(label)
    expect(row).to_contain_text(PATIENT)
    expect(row).to_contain_text("Consultation")
    expect(row).to_contain_text("Dr. Lee")
    expect(row.get_by_test_id("appointment-status")).to_have_text("Booked")
    expect(row.get_by_test_id("mark-noshow")).to_have_count(0)  # not before its time
    screenshot(console, "appointments-02-day-view")

    # Reschedule from the day view: the booking form with the same service, another slot.
    row.get_by_test_id("reschedule").click()
    form = console.get_by_test_id("reschedule-form")
    expect(form).to_be_visible()
    later = form.get_by_test_id("booking-slot").locator("option").nth(3)
    later_label = later.inner_text().split(" · ")[0]
    form.get_by_test_id("booking-slot").select_option(later.get_attribute("value"))
    form.get_by_test_id("reschedule-save").click()
    expect(console.get_by_test_id("appointment")).to_contain_text(later_label)
    session.expire_all()
    moved = session.get_one(Appointment, appointment.id)
    assert moved.start_at.isoformat() != start and moved.status is AppointmentStatus.BOOKED
    row = console.get_by_test_id("appointment")

    # Cancel from the day view: the row says so, and the slot is free again.
    console.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("mark-cancelled").click()
    expect(console.get_by_test_id("appointment").get_by_test_id("appointment-status")).to_have_text(
        "Cancelled"
    )
    session.expire_all()
    assert session.get_one(Appointment, appointment.id).status is AppointmentStatus.CANCELLED
    context.close()
