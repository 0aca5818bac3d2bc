"""The reminder sequence on PostgreSQL and Redis with an in-process burst worker: moments across
time zones and quiet hours, the text, confirmation, cancel and move, STOP mid-sequence, the caps
across two appointments, a flushed Redis, a moment that passed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from appointments import catalog, reminders, services
from appointments.models import Appointment, Service
from appointments.reminder_jobs import reconcile_reminders
from appointments.reminder_models import Reminder, ReminderState, ReminderStep
from contact_center import clock
from contact_center.messaging import services as messaging
from contact_center.models import Patient, Practice
from contact_center.patients import find_or_add_patient
from tests.conftest import at_local
from tests.factories import make_practice
from tests.outbound import rest_requests, run_jobs
from tests.web.conftest import log_in, make_login

LA = "America/Los_Angeles"
NY = "America/New_York"
LA_PATIENT = "+13105550142"
NY_PATIENT = "+12125550142"


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA, hours="mon-sat 07:00-18:00")


@pytest.fixture
def service(session: Session, practice: Practice) -> Service:
    return catalog.add_service(session, practice.id, "Botox consult", 30, "consultation")


def patient(session: Session, practice: Practice, phone: str) -> Patient:
    found = find_or_add_patient(session, practice.id, phone, clock.now())
    assert found is not None
    return found


def book(
    session: Session, practice: Practice, service: Service, phone: str, start: datetime
) -> Appointment:
    return services.book(
        session,
        practice.id,
        patient(session, practice, phone).id,
        service.id,
        start,
        "system",
        clock.now(),
    )


def rows(session: Session, appointment: Appointment) -> list[tuple[str, datetime, str, str | None]]:
    session.expire_all()
    return [
        (r.step.value, r.due_at, r.state.value, r.reason)
        for r in reminders.reminders_of(session, appointment.id)
    ]


def tick(session: Session, redis: Redis, at: datetime) -> list[str]:
    """The clock moves to ``at`` and the reconciler runs; the texts sent by then."""
    clock.pin(at)
    reconcile_reminders()
    run_jobs(redis)
    return [r.form["Body"] for r in rest_requests(session, "Messages")]


def test_the_sequence_in_the_patients_zone_and_the_exact_text(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    start = at_local(LA, 2026, 12, 10, 14)  # Thursday 2 PM at the practice
    appointment = book(session, practice, service, NY_PATIENT, start)
    assert [(s, due, state) for s, due, state, _ in rows(session, appointment)] == [
        ("first", at_local(LA, 2026, 12, 8, 14), "scheduled"),
        ("second", at_local(LA, 2026, 12, 9, 14), "scheduled"),
        ("morning", at_local(NY, 2026, 12, 10, 8), "scheduled"),  # 8:00 where the patient is
    ]
    text = (
        "You have an appointment at Glow Aesthetics on Thu Dec 10 at 2:00 PM. "
        "Reply C to confirm or R to reschedule. Reply STOP to opt out."
    )
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 13, 59)) == []
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 14)) == [text]
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 14, 5)) == [text]  # once
    assert tick(session, redis, at_local(LA, 2026, 12, 9, 14)) == [text] * 2
    assert tick(session, redis, at_local(NY, 2026, 12, 10, 8)) == [text] * 3
    assert "Botox" not in text and len(text) <= 160
    assert [state for _, _, state, _ in rows(session, appointment)] == ["queued"] * 3
    requests = rest_requests(session, "Messages")
    assert {r.form["To"] for r in requests} == {NY_PATIENT}


def test_quiet_hours_move_a_reminder_and_a_morning_after_the_start_is_skipped_visibly(
    session: Session, practice: Practice, service: Service
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 7, 30))
    first, second, morning = rows(session, appointment)
    assert first[1:3] == (at_local(LA, 2026, 12, 8, 8), "scheduled")  # 7:30 is quiet: 8:00
    assert second[1:3] == (at_local(LA, 2026, 12, 9, 8), "scheduled")
    assert morning[2] == "skipped" and "quiet hours" in (morning[3] or "")


def test_a_late_booking_skips_the_moments_that_passed(
    session: Session, practice: Practice, service: Service
) -> None:
    clock.pin(at_local(LA, 2026, 12, 9, 10))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 15))
    (_, _, s1, r1), (_, due2, s2, _), (_, due3, s3, _) = rows(session, appointment)
    assert s1 == "skipped" and "booked after this reminder's moment" in (r1 or "")
    assert (s2, due2) == ("scheduled", at_local(LA, 2026, 12, 9, 15))
    assert (s3, due3) == ("scheduled", at_local(LA, 2026, 12, 10, 8))


def test_confirmed_patients_get_no_24_hour_reminder(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    tick(session, redis, at_local(LA, 2026, 12, 8, 14))
    services.confirm(session, appointment.id, "patient", at_local(LA, 2026, 12, 8, 14, 10))
    assert len(tick(session, redis, at_local(LA, 2026, 12, 9, 14))) == 1
    assert len(tick(session, redis, at_local(LA, 2026, 12, 10, 8))) == 2
    states = [(s, state, reason) for s, _, state, reason in rows(session, appointment)]
    assert states[1] == ("second", "skipped", "already confirmed")


def test_cancelling_or_moving_replaces_the_waiting_reminders(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    moved = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    cancelled = book(session, practice, service, "+13105550150", at_local(LA, 2026, 12, 10, 15))
    services.reschedule(session, moved.id, at_local(LA, 2026, 12, 11, 11), "patient", clock.now())
    services.cancel(session, cancelled.id, "system", clock.now())
    states = rows(session, moved)
    assert [(s, st) for s, _, st, _ in states[:3]] == [
        ("first", "cancelled"),
        ("second", "cancelled"),
        ("morning", "cancelled"),
    ]
    assert [(s, due, st) for s, due, st, _ in states[3:]] == [
        ("first", at_local(LA, 2026, 12, 9, 11), "scheduled"),
        ("second", at_local(LA, 2026, 12, 10, 11), "scheduled"),
        ("morning", at_local(LA, 2026, 12, 11, 8), "scheduled"),
    ]
    assert {st for _, _, st, _ in rows(session, cancelled)} == {"cancelled"}
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 14)) == []  # the old moment: nothing
    assert "Fri Dec 11 at 11:00 AM" in tick(session, redis, at_local(LA, 2026, 12, 9, 11))[0]


def test_stop_mid_sequence_stops_the_rest(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    assert len(tick(session, redis, at_local(LA, 2026, 12, 8, 14))) == 1
    conversation = messaging.find_conversation(session, practice.id, LA_PATIENT)
    assert conversation is not None
    messaging.set_opt_out(session, conversation, True, clock.now())
    assert len(tick(session, redis, at_local(LA, 2026, 12, 9, 14))) == 1
    assert len(tick(session, redis, at_local(LA, 2026, 12, 10, 8))) == 1
    states = [(state, (reason or "")[:18]) for _, _, state, reason in rows(session, appointment)]
    assert states == [
        ("queued", ""),
        ("skipped", "refused: opted_out"),
        ("skipped", "refused: opted_out"),
    ]


def test_two_appointments_share_the_daily_and_weekly_caps(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    a = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    b = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 11, 14))
    for day, hour in ((8, 14), (9, 14), (10, 8), (10, 14), (11, 8)):
        tick(session, redis, at_local(LA, 2026, 12, day, hour))
    sent = rest_requests(session, "Messages")
    # One a day (8th, 9th, 10th), then the week's third already went on the 10th.
    assert len(sent) == 3
    reasons = [r.reason or "" for r in reminders.reminders_of(session, b.id)]
    assert any("care_daily_cap" in r for r in reasons)
    assert any("care_weekly_cap" in r for r in reasons)
    assert [st for _, _, st, _ in rows(session, a)] == ["queued"] * 3


def test_a_flushed_redis_loses_no_reminder_and_doubles_none(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    clock.pin(at_local(LA, 2026, 12, 8, 14))
    reconcile_reminders()
    reconcile_reminders()  # twice: one job
    assert redis.llen("rq:queue:realtime") == 1
    redis.flushdb()  # Redis lost before the worker ran it
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 14, 0, 15)) != []
    assert len(tick(session, redis, at_local(LA, 2026, 12, 8, 14, 0, 30))) == 1
    assert rows(session, appointment)[0][2] == "queued"


def test_a_reminder_whose_moment_passed_is_skipped_with_its_reason(
    session: Session, practice: Practice, service: Service, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    # No worker ran for three hours after the first reminder's moment.
    assert tick(session, redis, at_local(LA, 2026, 12, 8, 17)) == []
    first = session.get_one(Reminder, reminders.reminders_of(session, appointment.id)[0].id)
    assert first.step is ReminderStep.FIRST and first.state is ReminderState.SKIPPED
    assert (first.reason or "").startswith("moment passed")
    assert first.state_at is not None and first.state_at - first.due_at == timedelta(hours=3)


def test_a_practice_sets_its_own_sequence_from_the_cli(
    app: Flask, session: Session, practice: Practice, service: Service
) -> None:
    def run(*args: str) -> tuple[int, str]:
        result = app.test_cli_runner().invoke(
            args=["reminders", "settings", "--practice", "Glow Aesthetics", *args]
        )
        return result.exit_code, result.output

    assert run() == (
        0,
        "Glow Aesthetics: 48 h before, 24 h before if unconfirmed, the morning of at 8:00 "
        "(patient's zone); reschedule links valid 72 h\n",
    )
    code, out = run("--first-hours", "72", "--second-hours", "0", "--morning-hour", "9")
    assert code == 0 and "72 h before, the morning of at 9:00" in out
    assert run("--morning-hour", "6")[0] == 2  # before 8: refused, nothing written
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 14))
    assert [(s, due) for s, due, _, _ in rows(session, appointment)] == [
        ("first", at_local(LA, 2026, 12, 7, 14)),
        ("morning", at_local(LA, 2026, 12, 10, 9)),
    ]
    assert run("--off")[1].endswith("reminders off\n")
    other = book(session, practice, service, NY_PATIENT, at_local(LA, 2026, 12, 11, 14))
    assert rows(session, other) == []


def test_the_patients_page_shows_each_reminder_and_why_one_was_skipped(
    session: Session, client: FlaskClient, redis: Redis, practice: Practice, service: Service
) -> None:
    """A skipped reminder is visible where a coordinator looks at the patient, with its reason."""
    clock.pin(at_local(LA, 2026, 12, 9, 10))
    appointment = book(session, practice, service, LA_PATIENT, at_local(LA, 2026, 12, 10, 15))
    coordinator = make_login(session, practice, "rita")
    session.commit()
    log_in(client, coordinator.email or "")
    page = client.get(f"/p/{practice.id}/patients/{appointment.patient_id}/appointments")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "First reminder · skipped: booked after this reminder&#39;s moment" in html
    assert "Second reminder (if not confirmed) · due Wed Dec 9, 3:00 PM" in html
    assert "Morning of · due Thu Dec 10, 8:00 AM" in html
