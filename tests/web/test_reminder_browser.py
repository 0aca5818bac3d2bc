"""A reminder in headless Chromium: the patient's reminder arrives on the "Try it" page (the
REST requests the product would have sent), the patient replies R there, follows the signed
link and moves the appointment to another free slot. Screenshots in test-output/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from appointments import catalog, services
from appointments.models import Appointment
from appointments.reminder_jobs import reconcile_reminders
from contact_center import clock
from contact_center.patients import find_or_add_patient
from routing.models import CallbackReason, CallbackTask
from tests.conftest import BASE_URL, at_local, drain_queues
from tests.factories import make_practice
from tests.web.conftest import PASSWORD, make_login, screenshot

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.committed
LA = "America/Los_Angeles"
PATIENT = "+13105550142"  # the Try-it page's default number


def test_reminder_reply_r_and_move_by_link_in_the_browser(
    app: Flask, session: Session, redis: Any, live_server: str, browser: Any
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    practice = make_practice(
        session, name="Glow Aesthetics", timezone=LA, hours="mon-sat 09:00-18:00"
    )
    ava = make_login(session, practice, "ava")
    service = catalog.add_service(session, practice.id, "Lip filler consult", 30, "consultation")
    patient = find_or_add_patient(session, practice.id, PATIENT, clock.now())
    assert patient is not None
    appointment = services.book(
        session,
        practice.id,
        patient.id,
        service.id,
        at_local(LA, 2026, 12, 10, 14),
        ava.id,
        clock.now(),
    )
    session.commit()
    clock.pin(at_local(LA, 2026, 12, 8, 14))  # 48 hours before: the reminder is due
    reconcile_reminders()
    drain_queues(redis)

    context = browser.new_context(base_url=live_server, viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ava.email or "")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/p/\d+/"))
    page.goto(f"/p/{practice.id}/try")
    requests = page.get_by_test_id("rest-requests")
    expect(requests).to_contain_text(
        "You have an appointment at Glow Aesthetics on Thu Dec 10 at 2:00 PM. "
        "Reply C to confirm or R to reschedule. Reply STOP to opt out."
    )
    expect(requests).not_to_contain_text("Lip filler")
    screenshot(page, "reminder-01-try-it")

    sms = page.get_by_test_id("try-sms")
    sms.get_by_label("Message").fill("R")
    sms.get_by_role("button", name="Send text").click()
    log = page.locator("#sms-log")
    expect(log).to_contain_text("Pick a new time here")
    reply = log.inner_text()
    link = re.search(re.escape(BASE_URL) + r"(/r/\S+)", reply)
    assert link is not None, reply
    screenshot(page, "reminder-02-replied-r")

    patient_page = context.new_page()
    patient_page.goto(live_server + link.group(1))
    expect(patient_page.get_by_test_id("reschedule-current")).to_have_text("Thu Dec 10 at 2:00 PM")
    expect(patient_page.locator("body")).not_to_contain_text("Lip filler")
    screenshot(patient_page, "reminder-03-reschedule-page")
    new_start = at_local(LA, 2026, 12, 11, 10)
    patient_page.locator(f'button[value="{new_start.isoformat()}"]').click()
    expect(patient_page.get_by_test_id("reschedule-done")).to_contain_text("Fri Dec 11 at 10:00 AM")
    screenshot(patient_page, "reminder-04-moved")

    session.expire_all()
    moved = session.get_one(Appointment, appointment.id)
    assert moved.start_at == new_start
    task = session.query(CallbackTask).filter_by(reason=CallbackReason.RESCHEDULE).one()
    assert task.phone == PATIENT
    # The coordinators see the reschedule task in the callback list.
    page.goto(f"/p/{practice.id}/console")
    expect(page.locator("body")).to_contain_text("reschedule")
    context.close()
