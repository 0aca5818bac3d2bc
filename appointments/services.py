"""Booking: free slots, book, cancel, reschedule, status marks. The stable API other features use.

Every function takes the session first, may flush, never commits; the caller (view, job, CLI)
owns the transaction and, after the commit, enqueues ``appointments.jobs.push_to_calendar`` for
the appointment ids it changed (the calendar reconciler catches any it forgets).

    free_slots(session, practice_id, service_id, provider_id, day, now, *, ignore=None)
        -> list[Slot] (from appointments.availability). ``day`` is practice-local;
        ``provider_id`` None means any provider (each Slot names its provider); ``ignore`` an
        appointment being moved, whose own slot counts as free.
    book(session, practice_id, patient_id, service_id, start, by, now, *, provider_id=None,
         source=AppointmentSource.CONSOLE, call_id=None, lead_id=None, location=None)
        -> Appointment (status booked). Raises SlotTaken when the slot is not free (also when
        two bookings race: the database's exclusion constraint decides), InvalidInput, NotFound.
    cancel(session, appointment_id, by, now, note=None) -> Appointment
    reschedule(session, appointment_id, new_start, by, now, *, provider_id=None, note=None)
        -> Appointment; raises SlotTaken like ``book``.
    mark(session, appointment_id, status, by, now, note=None) -> Appointment
        arrived, fulfilled, noshow, entered-in-error.
    allowed_moves(appointment, now) -> the statuses ``mark`` accepts now.
    confirm(session, appointment_id, by, now, note=None) -> Appointment
        sets ``confirmed_at`` once (the patient replied C); the status stays booked.
    appointment_for_practice(session, practice_id, appointment_id) -> Appointment (NotFound)
    book_for_call(session, practice_id, call_id, patient_id, BookingRequest, kind, by, now)
        -> Appointment: the wrap-up's booking (qa.outcomes.set_outcome calls it).

``by`` is a user id (a coordinator) or a word for who else acted: "patient", "calendar",
"system". Every change writes one AppointmentChange row and then calls
``appointment_changed(session, appointment, change)``, the one hook for what must follow a
change (reminders are replaced there when an appointment is cancelled or moved).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from appointments.availability import free_slots, practice_zone, providers_for, service_of
from appointments.models import (
    HELD,
    Appointment,
    AppointmentChange,
    AppointmentSource,
    AppointmentStatus,
    Provider,
    ServiceKind,
)
from appointments.slots import Slot
from contact_center.errors import DomainError, InvalidInput, NotFound
from contact_center.jobs import DEFAULT, after_commit
from contact_center.models import Patient, Practice

logger = logging.getLogger(__name__)

By = int | str
S = AppointmentStatus
# Statuses only move forward (FHIR R4): where each may go. entered-in-error undoes a mistake.
MOVES: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.PROPOSED: frozenset({S.PENDING, S.BOOKED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.PENDING: frozenset({S.BOOKED, S.CANCELLED, S.ENTERED_IN_ERROR}),
    S.BOOKED: frozenset({S.ARRIVED, S.CANCELLED, S.NOSHOW, S.ENTERED_IN_ERROR}),
    S.ARRIVED: frozenset({S.FULFILLED, S.ENTERED_IN_ERROR}),
    S.FULFILLED: frozenset({S.ENTERED_IN_ERROR}),
    S.CANCELLED: frozenset(),
    S.NOSHOW: frozenset({S.ENTERED_IN_ERROR}),
    S.ENTERED_IN_ERROR: frozenset(),
}
MOVABLE = frozenset({S.PROPOSED, S.PENDING, S.BOOKED})


class SlotTaken(DomainError):
    """The time asked for is not a free slot (taken, outside hours, in the past, busy)."""


# --- the one hook ----------------------------------------------------------------------------


def appointment_changed(
    session: Session, appointment: Appointment, change: AppointmentChange
) -> None:
    """Everything that must follow a change of ``appointment`` (booked, moved, cancelled,
    confirmed, marked), inside the caller's transaction.

    Today: the change row is stored, the calendar copy marked out of date (``updated_at``) and
    the calendar push started after commit (the reconciler retries it). The reminder sequence
    hooks in here to replace the appointment's pending reminders.
    """
    # updated_at is the calendar copy's version: strictly increasing, even for two changes
    # within one tick of the clock (a pinned clock, a fast double click).
    previous = appointment.updated_at
    appointment.updated_at = (
        max(change.at, previous + timedelta(microseconds=1)) if previous else change.at
    )
    session.add(change)
    session.flush()
    # The practice's calendar follows once this commits (the calendar reconciler retries).
    after_commit(
        session,
        "appointments.jobs.push_to_calendar",
        appointment.id,
        queue=DEFAULT,
        job_id=f"calendar-push-{appointment.id}",
        retries=0,  # the reconciler retries, at its own pace, until the calendar is back
    )
    from appointments.reminders import schedule_reminders  # the reminder sequence follows

    schedule_reminders(session, appointment, change.at)
    # Follow-up journeys start at a visit's end; by path: journeys builds on appointments.
    if change.to_status in (S.FULFILLED, S.NOSHOW):
        after_commit(
            session, "journeys.jobs.start_journeys", change.id, job_id=f"journeys-{change.id}"
        )


def _record(
    session: Session,
    appointment: Appointment,
    by: By,
    now: datetime,
    *,
    from_status: AppointmentStatus | None,
    from_start: datetime | None,
    note: str | None = None,
) -> AppointmentChange:
    change = AppointmentChange(
        appointment_id=appointment.id,
        practice_id=appointment.practice_id,
        by_user_id=by if isinstance(by, int) else None,
        by="coordinator" if isinstance(by, int) else by,
        at=now,
        from_status=from_status,
        to_status=appointment.status,
        from_start=from_start,
        to_start=appointment.start_at,
        note=" ".join(note.split())[:1000] if note else None,
    )
    appointment_changed(session, appointment, change)
    return change


# --- reading ---------------------------------------------------------------------------------


def appointment_for_practice(
    session: Session, practice_id: int, appointment_id: int
) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.practice_id != practice_id:
        raise NotFound(f"no appointment {appointment_id}")
    return appointment


# --- writing ---------------------------------------------------------------------------------


def _lock(session: Session, practice_id: int, provider_id: int | None) -> None:
    """Serialize bookings of one calendar: lock the provider's row (or the practice's when it
    has no providers). The exclusion constraint stays the final word; this lock makes the
    loser of a race see the winner's row and get a clear SlotTaken instead of an error."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: one writer at a time already
    if provider_id is not None:
        session.execute(
            select(Provider.id).where(Provider.id == provider_id).with_for_update(key_share=True)
        )
    else:
        session.execute(
            select(Practice.id).where(Practice.id == practice_id).with_for_update(key_share=True)
        )


def _take_slot(
    session: Session,
    practice_id: int,
    service_id: int,
    provider_id: int | None,
    start: datetime,
    now: datetime,
    ignore: int | None = None,
) -> Slot:
    """The free slot at ``start`` (locking its calendar first), or SlotTaken."""
    if start.tzinfo is None:
        raise InvalidInput("the start time needs its time zone", "start")
    zone = practice_zone(session, practice_id)
    day = start.astimezone(zone).date()
    candidates: list[int | None] = [p.id for p in providers_for(session, practice_id, provider_id)]
    candidates = candidates or [None]  # no providers: the practice is one calendar
    for candidate in candidates:
        _lock(session, practice_id, candidate)
        for slot in free_slots(
            session, practice_id, service_id, candidate, day, now, ignore=ignore
        ):
            if slot.start == start and slot.provider_id == candidate:
                return slot
    raise SlotTaken("that time is no longer free; pick another slot")


def _flush_guarded(session: Session) -> None:
    """Flush in a savepoint: the database's double-booking guard becomes SlotTaken and the
    caller's transaction stays usable."""
    try:
        with session.begin_nested():
            session.flush()
    except exc.IntegrityError as error:
        text = str(error.orig)
        if "ex_appointments_provider_overlap" in text or "uq_appointments_held_slot" in text:
            raise SlotTaken(
                "that time was just booked by someone else; pick another slot"
            ) from error
        if "UNIQUE constraint failed: appointments.provider_id, appointments.start_at" in text:
            raise SlotTaken(
                "that time was just booked by someone else; pick another slot"
            ) from error
        raise


def book(
    session: Session,
    practice_id: int,
    patient_id: int,
    service_id: int,
    start: datetime,
    by: By,
    now: datetime,
    *,
    provider_id: int | None = None,
    source: AppointmentSource = AppointmentSource.CONSOLE,
    call_id: int | None = None,
    lead_id: int | None = None,
    location: str | None = None,
    note: str | None = None,
) -> Appointment:
    """Book ``patient_id`` into the free slot at ``start`` (UTC-aware). With no provider given,
    the first provider free then is chosen. Raises SlotTaken, InvalidInput, NotFound."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.practice_id != practice_id:
        raise NotFound(f"no patient {patient_id}")
    slot = _take_slot(session, practice_id, service_id, provider_id, start, now)
    appointment = Appointment(
        practice_id=practice_id,
        patient_id=patient_id,
        service_id=service_id,
        provider_id=slot.provider_id,
        start_at=slot.start,
        end_at=slot.end,
        location=(location or "").strip()[:200] or None,
        source=source,
        call_id=call_id,
        lead_id=lead_id,
        status=AppointmentStatus.BOOKED,
        booked_by_id=by if isinstance(by, int) else None,
        created_at=now,
        updated_at=now,
    )
    session.add(appointment)
    _flush_guarded(session)
    _record(session, appointment, by, now, from_status=None, from_start=None, note=note)
    logger.info(
        "booked appointment_id=%s practice_id=%s provider_id=%s",
        appointment.id,
        practice_id,
        appointment.provider_id,
    )
    return appointment


def _move_status(
    session: Session,
    appointment_id: int,
    to: AppointmentStatus,
    by: By,
    now: datetime,
    note: str | None,
    practice_id: int | None = None,
) -> Appointment:
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None or (practice_id is not None and appointment.practice_id != practice_id):
        raise NotFound(f"no appointment {appointment_id}")
    if to is appointment.status:
        return appointment  # said twice (a double click, a retried job): nothing new
    if to not in MOVES[appointment.status]:
        raise InvalidInput(
            f"an appointment that is {appointment.status.value} cannot become {to.value}", "status"
        )
    if to not in allowed_moves(appointment, now):
        raise InvalidInput(f"not {to.value} this long before the appointment's time", "status")
    before = appointment.status
    appointment.status = to
    _record(
        session,
        appointment,
        by,
        now,
        from_status=before,
        from_start=appointment.start_at,
        note=note,
    )
    return appointment


def allowed_moves(appointment: Appointment, now: datetime) -> frozenset[AppointmentStatus]:
    """The statuses this appointment may take now: fulfilled and no-show only from its start
    on, arrived from 12 hours before (what the day view offers, and what ``mark`` accepts)."""
    moves = set(MOVES[appointment.status])
    if now < appointment.start_at:
        moves -= {S.FULFILLED, S.NOSHOW}
    if now < appointment.start_at - timedelta(hours=12):
        moves.discard(S.ARRIVED)
    return frozenset(moves)


def cancel(
    session: Session,
    appointment_id: int,
    by: By,
    now: datetime,
    note: str | None = None,
    *,
    practice_id: int | None = None,
) -> Appointment:
    """Cancel an appointment (its slot is free again). Raises NotFound, InvalidInput."""
    return _move_status(session, appointment_id, S.CANCELLED, by, now, note, practice_id)


def mark(
    session: Session,
    appointment_id: int,
    status: AppointmentStatus | str,
    by: By,
    now: datetime,
    note: str | None = None,
    *,
    practice_id: int | None = None,
) -> Appointment:
    """Arrived, fulfilled, no-show, entered in error. Raises NotFound, InvalidInput."""
    try:
        to = AppointmentStatus(status)
    except ValueError as error:
        raise InvalidInput(f"unknown status {status!r}", "status") from error
    return _move_status(session, appointment_id, to, by, now, note, practice_id)


def confirm(
    session: Session, appointment_id: int, by: By, now: datetime, note: str | None = None
) -> Appointment:
    """The patient confirmed: ``confirmed_at`` is set once; later confirmations change nothing."""
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound(f"no appointment {appointment_id}")
    if appointment.confirmed_at is not None or appointment.status not in MOVABLE:
        return appointment
    appointment.confirmed_at = now
    _record(
        session,
        appointment,
        by,
        now,
        from_status=appointment.status,
        from_start=appointment.start_at,
        note=note or "confirmed",
    )
    return appointment


def reschedule(
    session: Session,
    appointment_id: int,
    new_start: datetime,
    by: By,
    now: datetime,
    *,
    provider_id: int | None = None,
    note: str | None = None,
    practice_id: int | None = None,
) -> Appointment:
    """Move an appointment to the free slot at ``new_start`` (same service; the same provider
    unless ``provider_id`` names another). A moved appointment is unconfirmed again.
    Raises SlotTaken, NotFound, InvalidInput."""
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None or (practice_id is not None and appointment.practice_id != practice_id):
        raise NotFound(f"no appointment {appointment_id}")
    if appointment.status not in MOVABLE:
        raise InvalidInput(
            f"an appointment that is {appointment.status.value} cannot be moved", "status"
        )
    target = provider_id if provider_id is not None else appointment.provider_id
    slot = _take_slot(
        session,
        appointment.practice_id,
        appointment.service_id,
        target,
        new_start,
        now,
        ignore=appointment.id,
    )
    before = appointment.start_at
    appointment.start_at, appointment.end_at = slot.start, slot.end
    appointment.provider_id = slot.provider_id
    appointment.confirmed_at = None
    _flush_guarded(session)
    _record(
        session, appointment, by, now, from_status=appointment.status, from_start=before, note=note
    )
    return appointment


@dataclass(frozen=True)
class BookingRequest:
    """What the booking form sends: a service, a free slot's start, optionally a provider."""

    service_id: int
    start: datetime
    provider_id: int | None = None
    location: str | None = None


def book_for_call(
    session: Session,
    practice_id: int,
    call_id: int,
    patient_id: int | None,
    request: BookingRequest,
    kind: ServiceKind,
    by: By,
    now: datetime,
) -> Appointment:
    """Book the caller of ``call_id`` from the call's wrap-up: the service must be of ``kind``
    (a booked treatment may also be a follow-up). Saving the same booking again (a retried
    form) returns the appointment already made. Raises SlotTaken, InvalidInput, NotFound."""
    if patient_id is None:
        raise InvalidInput("the caller's number is withheld: no patient to book", "service_id")
    service = service_of(session, practice_id, request.service_id)
    allowed = {kind} | ({ServiceKind.FOLLOW_UP} if kind is ServiceKind.TREATMENT else set())
    if service.kind not in allowed:
        raise InvalidInput(f"pick a {kind.label.lower()} service for this outcome", "service_id")
    existing = session.scalars(
        select(Appointment).where(
            Appointment.call_id == call_id,
            Appointment.service_id == service.id,
            Appointment.start_at == request.start,
            Appointment.status.in_(HELD),
        )
    ).first()
    if existing is not None:
        return existing
    return book(
        session,
        practice_id,
        patient_id,
        service.id,
        request.start,
        by,
        now,
        provider_id=request.provider_id,
        source=AppointmentSource.CALL,
        call_id=call_id,
        location=request.location,
    )
