"""Booking on PostgreSQL: free slots, status moves, every change kept, no double booking."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from appointments import catalog, services
from appointments.models import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    CalendarBusy,
    Service,
)
from appointments.services import SlotTaken
from contact_center import db
from contact_center.errors import InvalidInput
from contact_center.models import Patient, Practice
from contact_center.patients import find_or_add_patient
from tests.conftest import at_local
from tests.factories import make_coordinator, make_practice

ZONE = "America/New_York"
MONDAY = date(2026, 12, 7)
NOW = at_local(ZONE, 2026, 12, 1, 9)


def _setup(session: Session) -> tuple[Practice, Service, Patient, int]:
    practice = make_practice(session, timezone=ZONE, hours="mon-fri 09:00-17:00")
    service = catalog.add_service(session, practice.id, "Botox consult", 30, "consultation")
    patient = find_or_add_patient(session, practice.id, "+12125550111", NOW)
    assert patient is not None
    user = make_coordinator(session, practice)
    return practice, service, patient, user.id


def test_slots_follow_practice_and_provider_hours_and_skip_held_and_busy(session: Session) -> None:
    practice, service, patient, user = _setup(session)
    dana = catalog.add_provider(session, practice.id, "Dana", "mon 13:00-15:00, tue 09:00-10:00")
    slots = services.free_slots(session, practice.id, service.id, dana.id, MONDAY, NOW)
    starts = [s.start for s in slots]
    assert starts[0] == at_local(ZONE, 2026, 12, 7, 13)
    assert starts[-1] == at_local(ZONE, 2026, 12, 7, 14, 30)  # 30 minutes end at 15:00
    assert len(starts) == 7  # every 15 minutes
    services.book(session, practice.id, patient.id, service.id, starts[2], user, NOW)
    after = [
        s.start for s in services.free_slots(session, practice.id, service.id, dana.id, MONDAY, NOW)
    ]
    # 13:30 is taken; 13:15 and 13:45 overlap it.
    assert at_local(ZONE, 2026, 12, 7, 13, 15) not in after
    assert at_local(ZONE, 2026, 12, 7, 13, 30) not in after
    assert at_local(ZONE, 2026, 12, 7, 13, 45) not in after
    assert at_local(ZONE, 2026, 12, 7, 14) in after
    # A busy time from the practice's calendar blocks the whole practice.
    session.add(
        CalendarBusy(
            practice_id=practice.id,
            provider_id=None,
            start_at=at_local(ZONE, 2026, 12, 7, 14),
            end_at=at_local(ZONE, 2026, 12, 7, 14, 20),
            event_uid="lunch@calendar",
        )
    )
    session.flush()
    after = [
        s.start for s in services.free_slots(session, practice.id, service.id, dana.id, MONDAY, NOW)
    ]
    assert after == [at_local(ZONE, 2026, 12, 7, 13), at_local(ZONE, 2026, 12, 7, 14, 30)]
    # Saturday: the practice is closed.
    assert (
        services.free_slots(session, practice.id, service.id, None, date(2026, 12, 12), NOW) == []
    )


def test_no_slot_in_the_past_and_no_booking_off_the_grid(session: Session) -> None:
    practice, service, patient, user = _setup(session)
    now = at_local(ZONE, 2026, 12, 7, 16)
    starts = [
        s.start for s in services.free_slots(session, practice.id, service.id, None, MONDAY, now)
    ]
    assert starts == [now, now + timedelta(minutes=15), now + timedelta(minutes=30)]
    with pytest.raises(SlotTaken):
        services.book(
            session, practice.id, patient.id, service.id, now - timedelta(hours=1), user, now
        )
    with pytest.raises(SlotTaken):
        services.book(
            session, practice.id, patient.id, service.id, now + timedelta(minutes=7), user, now
        )


def test_any_provider_books_the_first_free_one_and_a_full_slot_is_refused(session: Session) -> None:
    practice, service, patient, user = _setup(session)
    ann = catalog.add_provider(session, practice.id, "Ann")
    bob = catalog.add_provider(session, practice.id, "Bob")
    start = at_local(ZONE, 2026, 12, 7, 10)
    first = services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    second = services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    assert {first.provider_id, second.provider_id} == {ann.id, bob.id}
    with pytest.raises(SlotTaken):
        services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    with pytest.raises(SlotTaken):
        services.book(
            session, practice.id, patient.id, service.id, start, user, NOW, provider_id=ann.id
        )


def test_every_change_is_kept_and_statuses_only_move_forward(session: Session) -> None:
    practice, service, patient, user = _setup(session)
    start = at_local(ZONE, 2026, 12, 7, 10)
    appt = services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    later = at_local(ZONE, 2026, 12, 7, 11)
    services.reschedule(
        session, appt.id, later, user, NOW + timedelta(hours=1), note="patient asked"
    )
    assert (appt.start_at, appt.end_at) == (later, later + timedelta(minutes=30))
    # the old slot is free again, the new one is not
    free = {
        s.start for s in services.free_slots(session, practice.id, service.id, None, MONDAY, NOW)
    }
    assert start in free and later not in free
    services.confirm(session, appt.id, "patient", NOW + timedelta(hours=2))
    services.confirm(session, appt.id, "patient", NOW + timedelta(hours=3))  # once only
    with pytest.raises(InvalidInput):
        services.mark(session, appt.id, "noshow", user, NOW)  # not before its time
    services.mark(session, appt.id, "arrived", user, later - timedelta(minutes=5))
    services.mark(session, appt.id, "fulfilled", user, later + timedelta(minutes=40))
    with pytest.raises(InvalidInput):
        services.cancel(session, appt.id, user, later + timedelta(hours=1))
    changes = catalog.changes_of(session, appt.id)
    assert [(c.from_status, c.to_status) for c in changes] == [
        (None, AppointmentStatus.BOOKED),
        (AppointmentStatus.BOOKED, AppointmentStatus.BOOKED),
        (AppointmentStatus.BOOKED, AppointmentStatus.BOOKED),
        (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED),
        (AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED),
    ]
    assert (changes[1].from_start, changes[1].to_start, changes[1].note) == (
        start,
        later,
        "patient asked",
    )
    assert changes[2].by == "patient" and changes[2].by_user_id is None
    assert changes[0].by == "coordinator" and changes[0].by_user_id == user


def test_cancel_frees_the_slot(session: Session) -> None:
    practice, service, patient, user = _setup(session)
    start = at_local(ZONE, 2026, 12, 7, 10)
    appt = services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    services.cancel(session, appt.id, user, NOW, "changed plans")
    again = services.book(session, practice.id, patient.id, service.id, start, user, NOW)
    assert again.id != appt.id and appt.status is AppointmentStatus.CANCELLED


def test_the_database_refuses_overlapping_held_appointments_of_one_provider(
    session: Session,
) -> None:
    """Not the service's check: the exclusion constraint itself (a bypassing writer is refused)."""
    practice, service, patient, user = _setup(session)
    dana = catalog.add_provider(session, practice.id, "Dana")
    start = at_local(ZONE, 2026, 12, 7, 10)
    services.book(
        session, practice.id, patient.id, service.id, start, user, NOW, provider_id=dana.id
    )
    with (
        pytest.raises(IntegrityError, match="ex_appointments_provider_overlap"),
        session.begin_nested(),
    ):
        session.add(
            Appointment(
                practice_id=practice.id,
                patient_id=patient.id,
                service_id=service.id,
                provider_id=dana.id,
                start_at=start + timedelta(minutes=10),
                end_at=start + timedelta(minutes=40),
                source="console",
                status=AppointmentStatus.BOOKED,
            )
        )
        session.flush()


@pytest.mark.committed
def test_two_coordinators_booking_one_slot_at_once_get_one_booking(session: Session) -> None:
    """Eight threads, eight sessions, one slot, one provider: exactly one booking commits."""
    practice, service, patient, user = _setup(session)
    dana = catalog.add_provider(session, practice.id, "Dana")
    practice_id, service_id, patient_id, dana_id = practice.id, service.id, patient.id, dana.id
    session.commit()
    start = at_local(ZONE, 2026, 12, 7, 10)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def attempt() -> None:
        with db.new_session() as s:
            barrier.wait()
            try:
                with s.begin():
                    services.book(
                        s,
                        practice_id,
                        patient_id,
                        service_id,
                        start,
                        user,
                        NOW,
                        provider_id=dana_id,
                    )
                results.append("booked")
            except SlotTaken:
                results.append("taken")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["booked"] + ["taken"] * 7
    held = session.scalars(select(Appointment).where(Appointment.provider_id == dana_id)).all()
    assert len(held) == 1
    assert session.scalar(
        select(AppointmentChange.id).where(AppointmentChange.appointment_id == held[0].id)
    )


@pytest.mark.committed
def test_a_practice_without_providers_is_one_calendar_under_concurrency(session: Session) -> None:
    """No provider rows: the practice's row lock serializes bookings of its one calendar."""
    practice, service, patient, user = _setup(session)
    practice_id, service_id, patient_id = practice.id, service.id, patient.id
    session.commit()
    start = at_local(ZONE, 2026, 12, 7, 11)
    barrier = threading.Barrier(6)
    results: list[str] = []

    def attempt(offset: int) -> None:
        with db.new_session() as s:
            barrier.wait()
            try:
                with s.begin():
                    at = start + timedelta(minutes=15 * (offset % 2))  # 11:00 and 11:15 overlap
                    services.book(s, practice_id, patient_id, service_id, at, user, NOW)
                results.append("booked")
            except SlotTaken:
                results.append("taken")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["booked"] + ["taken"] * 5
    held = session.scalars(select(Appointment).where(Appointment.practice_id == practice_id)).all()
    assert len(held) == 1 and held[0].provider_id is None


@pytest.mark.committed
def test_racing_bookings_without_the_lock_are_still_refused_by_the_constraint(
    session: Session,
) -> None:
    """Two transactions insert overlapping held rows directly (no service, no lock): the second
    commit fails on the exclusion constraint, so the database alone forbids double booking."""
    practice, service, patient, _user = _setup(session)
    dana = catalog.add_provider(session, practice.id, "Dana")
    session.commit()
    start = at_local(ZONE, 2026, 12, 7, 10)

    def row(offset: int) -> Appointment:
        return Appointment(
            practice_id=practice.id,
            patient_id=patient.id,
            service_id=service.id,
            provider_id=dana.id,
            start_at=start + timedelta(minutes=offset),
            end_at=start + timedelta(minutes=offset + 30),
            source="console",
            status=AppointmentStatus.BOOKED,
        )

    first, second = db.new_session(), db.new_session()
    try:
        first.begin()
        second.begin()
        first.add(row(0))
        first.flush()
        second.add(row(15))
        outcome: list[BaseException] = []

        def flush_second() -> None:
            try:
                second.flush()
                second.commit()
            except BaseException as error:  # noqa: BLE001 - the assertion below reads it
                outcome.append(error)

        waiter = threading.Thread(target=flush_second)
        waiter.start()  # blocks on the first transaction's uncommitted row
        first.commit()
        waiter.join(30)
        assert outcome and isinstance(outcome[0], IntegrityError)
    finally:
        first.close()
        second.close()
    count = session.scalar(text("SELECT count(*) FROM appointments"))
    assert count == 1
