"""The practice's calendar over CalDAV, end to end against a real Radicale server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from appointments import caldav_sync, catalog, jobs, services
from appointments.models import CalendarConnection
from appointments.secrets import SecretError, decrypt
from contact_center import clock
from contact_center.db import session_scope
from contact_center.models import Patient, Practice
from contact_center.patients import find_or_add_patient
from tests.appointments.radicale_server import PASSWORD, USER, Radicale, running
from tests.conftest import at_local, drain_queues
from tests.factories import make_coordinator, make_practice
from tests.recordings.media_server import installed

KEY = "7e" * 32
ZONE = "America/Chicago"
MONDAY = date(2026, 12, 7)
NOW = at_local(ZONE, 2026, 12, 1, 9)


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    with running(tmp_path) as server:
        yield server


@pytest.fixture
def keyed(app: Flask) -> Iterator[None]:
    with installed(recordings_key=KEY):
        yield


def _practice(session: Session, server: Radicale) -> tuple[Practice, int, Patient, int]:
    practice = make_practice(
        session, name="Glow Aesthetics", timezone=ZONE, hours="mon-fri 09:00-17:00"
    )
    service = catalog.add_service(session, practice.id, "Lip filler consult", 30, "consultation")
    patient = find_or_add_patient(session, practice.id, "+13125550142", NOW)
    assert patient is not None
    patient.first_name, patient.last_name = "Jane", "Doe"
    user = make_coordinator(session, practice)
    caldav_sync.connect_calendar(
        session, practice.id, server.url, USER, PASSWORD, server.calendar_path, KEY
    )
    session.flush()
    return practice, service.id, patient, user.id


def _events(server: Radicale) -> list[dict[str, object]]:
    out = []
    for item in server.calendar().events():
        event = item.icalendar_component
        out.append(
            {
                "uid": str(event["uid"]),
                "summary": str(event["summary"]),
                "description": str(event["description"]),
                "start": event["dtstart"].dt,
                "end": event["dtend"].dt,
            }
        )
    return out


@pytest.mark.usefixtures("keyed")
def test_booking_writes_moving_updates_and_cancelling_deletes_the_event(
    session: Session, radicale: Radicale
) -> None:
    clock.pin(NOW)
    practice, service_id, patient, user = _practice(session, radicale)
    start = at_local(ZONE, 2026, 12, 7, 14)
    appt = services.book(session, practice.id, patient.id, service_id, start, user, NOW)
    assert not appt.in_calendar
    jobs.push_to_calendar(appt.id)
    session.refresh(appt)
    assert appt.in_calendar and appt.calendar_error is None
    [event] = _events(radicale)
    assert event["uid"] == appt.calendar_uid
    assert event["summary"] == "Consultation - Glow Aesthetics"
    assert event["description"] == "Jane D."
    assert (event["start"], event["end"]) == (start, start + timedelta(minutes=30))
    text = radicale.calendar().event_by_uid(appt.calendar_uid).data
    assert "filler" not in text.lower() and "Doe" not in text and "+1312" not in text

    jobs.push_to_calendar(appt.id)  # again: nothing to do, still one event
    assert len(_events(radicale)) == 1

    later = at_local(ZONE, 2026, 12, 8, 10)
    services.reschedule(session, appt.id, later, user, NOW)
    assert not appt.in_calendar
    jobs.push_to_calendar(appt.id)
    [moved] = _events(radicale)
    assert moved["uid"] == appt.calendar_uid and moved["start"] == later

    services.cancel(session, appt.id, user, NOW)
    jobs.push_to_calendar(appt.id)
    session.refresh(appt)
    assert _events(radicale) == [] and appt.in_calendar


@pytest.mark.usefixtures("keyed")
def test_calendar_down_keeps_the_booking_and_the_reconciler_catches_up(
    session: Session, radicale: Radicale
) -> None:
    clock.pin(NOW)
    practice, service_id, patient, user = _practice(session, radicale)
    long_ago = at_local(ZONE, 2026, 9, 7, 11)  # before the calendar was connected
    old = services.book(
        session, practice.id, patient.id, service_id, long_ago, user, long_ago - timedelta(days=1)
    )
    radicale.stop()
    start = at_local(ZONE, 2026, 12, 7, 11)
    appt = services.book(session, practice.id, patient.id, service_id, start, user, NOW)
    jobs.push_to_calendar(appt.id)
    session.refresh(appt)
    assert appt.status.value == "booked"  # kept
    assert not appt.in_calendar and appt.calendar_error and "unavailable" in appt.calendar_error
    assert jobs.reconcile_calendars() == 1  # still down: tried, still pending
    session.refresh(appt)
    assert not appt.in_calendar

    radicale.start()
    assert jobs.reconcile_calendars() == 1
    session.refresh(appt)
    assert appt.in_calendar and appt.calendar_error is None
    assert [e["start"] for e in _events(radicale)] == [start]
    assert jobs.reconcile_calendars() == 0  # nothing left to do
    session.refresh(old)
    assert not old.in_calendar  # history stays out of the calendar


@pytest.mark.usefixtures("keyed")
def test_busy_times_in_the_calendar_block_slots_but_our_own_events_do_not(
    session: Session, radicale: Radicale
) -> None:
    clock.pin(NOW)
    practice, service_id, patient, user = _practice(session, radicale)
    ann = catalog.add_provider(session, practice.id, "Ann Lee")
    bob = catalog.add_provider(session, practice.id, "Bob Ray")
    ours = services.book(
        session,
        practice.id,
        patient.id,
        service_id,
        at_local(ZONE, 2026, 12, 7, 9),
        user,
        NOW,
        provider_id=bob.id,
    )
    jobs.push_to_calendar(ours.id)
    calendar = radicale.calendar()
    calendar.save_event(
        dtstart=at_local(ZONE, 2026, 12, 7, 12),
        dtend=at_local(ZONE, 2026, 12, 7, 13),
        summary="Staff lunch",
        uid="lunch-1@elsewhere",
    )
    calendar.save_event(
        dtstart=at_local(ZONE, 2026, 12, 7, 15),
        dtend=at_local(ZONE, 2026, 12, 7, 16),
        summary="Ann Lee - training",
        uid="training-1@elsewhere",
    )
    # A weekly meeting that began a week earlier: only its expanded occurrence blocks.
    calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:weekly-1@elsewhere\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART:20261130T160000Z\r\nDTEND:20261130T163000Z\r\n"  # Mondays 10:00 Chicago
        "RRULE:FREQ=WEEKLY\r\nSUMMARY:Team huddle\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    # A "free" (transparent) event blocks nothing.
    calendar.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:free-1@elsewhere\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART:20261207T200000Z\r\nDTEND:20261207T210000Z\r\nTRANSP:TRANSPARENT\r\n"
        "SUMMARY:Reminder to self\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert jobs.sync_busy(practice.id) >= 3

    def starts(provider_id: int) -> set[object]:
        slots = services.free_slots(session, practice.id, service_id, provider_id, MONDAY, NOW)
        return {s.start for s in slots}

    noon, three = at_local(ZONE, 2026, 12, 7, 12), at_local(ZONE, 2026, 12, 7, 15)
    nine = at_local(ZONE, 2026, 12, 7, 9)
    assert noon not in starts(ann.id) and noon not in starts(bob.id)  # the whole practice
    assert three not in starts(ann.id) and three in starts(bob.id)  # Ann only
    assert nine in starts(ann.id) and nine not in starts(bob.id)  # Bob's own booking, not busy
    ten, two = at_local(ZONE, 2026, 12, 7, 10), at_local(ZONE, 2026, 12, 7, 14)
    assert ten not in starts(ann.id) and ten not in starts(bob.id)  # the weekly huddle
    assert two in starts(ann.id) and two in starts(bob.id)  # the transparent event


def test_the_calendar_password_is_stored_encrypted(session: Session) -> None:
    practice = make_practice(session)
    connection = caldav_sync.connect_calendar(
        session,
        practice.id,
        "https://cal.example.test/dav/",
        "glow",
        "hunter2-pass",
        "/glow/a/",
        KEY,
    )
    assert "hunter2" not in connection.password_encrypted
    assert decrypt(KEY, practice.id, connection.password_encrypted) == "hunter2-pass"
    with pytest.raises(SecretError):
        decrypt(KEY, practice.id + 1, connection.password_encrypted)
    with pytest.raises(SecretError):
        decrypt("00" * 32, practice.id, connection.password_encrypted)
    caldav_sync.connect_calendar(
        session, practice.id, "https://cal.example.test/dav2/", "glow", None, "", KEY
    )
    assert session.get(CalendarConnection, connection.id) is not None
    assert decrypt(KEY, practice.id, connection.password_encrypted) == "hunter2-pass"  # kept


@pytest.mark.usefixtures("keyed")
def test_the_push_runs_on_a_real_rq_worker(
    session: Session, radicale: Radicale, redis: Redis
) -> None:
    clock.pin(NOW)
    practice, service_id, patient, user = _practice(session, radicale)
    start = at_local(ZONE, 2026, 12, 7, 16)
    with session_scope() as s:  # booking starts the push once it commits
        appt = services.book(s, practice.id, patient.id, service_id, start, user, NOW)
    with session_scope() as s:
        jobs.push_after_commit(s, appt.id)  # coalesced while the first waits
    assert drain_queues(redis) == 1
    appt = session.merge(appt)
    session.refresh(appt)
    assert appt.in_calendar
    assert [e["start"] for e in _events(radicale)] == [start]


def test_a_provider_feed_at_a_secret_url(session: Session, client: FlaskClient) -> None:
    clock.pin(NOW)
    practice = make_practice(
        session, name="Glow Aesthetics", timezone=ZONE, hours="mon-fri 09:00-17:00"
    )
    service = catalog.add_service(session, practice.id, "Microneedling", 60, "treatment")
    dana = catalog.add_provider(session, practice.id, "Dana")
    other = catalog.add_provider(session, practice.id, "Eve")
    patient = find_or_add_patient(session, practice.id, "+13125550142", NOW)
    assert patient is not None and dana.feed_token and other.feed_token
    patient.first_name, patient.last_name = "Jane", "Doe"
    user = make_coordinator(session, practice)
    start = at_local(ZONE, 2026, 12, 7, 10)
    services.book(
        session, practice.id, patient.id, service.id, start, user.id, NOW, provider_id=dana.id
    )
    gone = services.book(
        session,
        practice.id,
        patient.id,
        service.id,
        start + timedelta(hours=2),
        user.id,
        NOW,
        provider_id=dana.id,
    )
    services.cancel(session, gone.id, user.id, NOW)

    response = client.get(f"/calendar/{dana.feed_token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert body.count("BEGIN:VEVENT") == 1  # the cancelled one is not shown
    assert "SUMMARY:Treatment - Glow Aesthetics" in body and "Jane D." in body
    assert "Microneedling" not in body and "Doe" not in body
    assert (
        client.get(f"/calendar/{other.feed_token}.ics").get_data(as_text=True).count("VEVENT") == 0
    )
    assert client.get("/calendar/not-a-real-token-at-all.ics").status_code == 404
    assert client.get("/calendar/x.ics").status_code == 404


@pytest.mark.usefixtures("keyed")
def test_the_cli_connects_a_calendar_and_reads_it(
    session: Session, radicale: Radicale, app: Flask
) -> None:
    practice = make_practice(session, name="Glow CLI", timezone=ZONE)
    radicale.calendar().save_event(
        dtstart=clock.now() + timedelta(days=1),
        dtend=clock.now() + timedelta(days=1, hours=1),
        summary="Closed for training",
        uid="closed-1@elsewhere",
    )
    runner = app.test_cli_runner()
    args = [
        "appointments",
        "connect-calendar",
        "--practice",
        "Glow CLI",
        "--url",
        radicale.url,
        "--username",
        USER,
        "--calendar-path",
        radicale.calendar_path,
    ]
    result = runner.invoke(args=args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "1 busy times read" in result.output
    connection = caldav_sync.connection_of(session, practice.id)
    assert connection is not None and PASSWORD not in connection.password_encrypted
    wrong = runner.invoke(args=args, input="wrong-password\nwrong-password\n")
    assert wrong.exit_code != 0 and "could not be read" in wrong.output
