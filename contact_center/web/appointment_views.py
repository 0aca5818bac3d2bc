"""The console's appointments: booking form data (services, providers, free slots), booking
outside a call (patient page, callbacks), the day view, cancel, reschedule and status marks.

Views parse and translate; ``appointments.services`` decides. Every change is committed first,
then its calendar push is enqueued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from sqlalchemy import select

from appointments import catalog, services
from appointments.caldav_sync import connection_of
from appointments.ical import patient_label
from appointments.jobs import sync_busy
from appointments.models import Appointment, AppointmentSource, ServiceKind
from appointments.services import SlotTaken
from contact_center import auth, clock
from contact_center.db import session_scope
from contact_center.errors import DomainError, InvalidInput, NotFound
from contact_center.jobs import DEFAULT, enqueue, left_to_reconciler
from contact_center.leads.models import Lead
from contact_center.models import Patient, Role
from contact_center.patients import find_or_add_patient
from contact_center.phones import to_e164
from contact_center.web import queries
from contact_center.web.access import current_user, practice_view, role
from contact_center.web.booking_form import parse_booking, parse_day, parse_id, parse_instant
from contact_center.webhooks import app_settings

bp = Blueprint("appointments_console", __name__, url_prefix="/p/<int:practice_id>")

COORDINATING = {Role.COORDINATOR, Role.ADMIN}
BUSY_STALE = timedelta(minutes=5)
STATUS_LABELS = {
    "proposed": "Proposed",
    "pending": "Held",
    "booked": "Booked",
    "arrived": "Arrived",
    "fulfilled": "Fulfilled",
    "cancelled": "Cancelled",
    "noshow": "No-show",
    "entered-in-error": "Entered in error",
}


@bp.errorhandler(SlotTaken)
def _slot_taken(error: SlotTaken) -> tuple[Response, int]:
    return jsonify(error=str(error), field="start"), 409


def _payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form.to_dict()


def _me() -> int:
    user = current_user()
    assert user is not None
    return user.id


def _time_label(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _kinds(raw: str) -> set[ServiceKind]:
    if raw == "booked_consultation":
        return {ServiceKind.CONSULTATION}
    if raw == "booked_treatment":
        return {ServiceKind.TREATMENT, ServiceKind.FOLLOW_UP}
    return set(ServiceKind)


def _refresh_busy_if_stale(practice_id: int, synced: datetime | None, now: datetime) -> None:
    if synced is not None and now - synced < BUSY_STALE:
        return
    with left_to_reconciler(f"busy times of practice {practice_id}"):
        enqueue(
            app_settings(),
            sync_busy,
            practice_id,
            queue=DEFAULT,
            job_id=f"calendar-busy-{practice_id}",
        )


@bp.get("/api/appointments/options")
@practice_view(COORDINATING)
def options(practice_id: int) -> Response:
    """What the booking form offers: services (of the outcome's kind), providers, today."""
    kinds = _kinds(request.args.get("outcome", ""))
    with session_scope() as s:
        zone = ZoneInfo(queries.practice(s, practice_id).timezone)
        offered = [
            {"id": sv.id, "name": sv.name, "kind": sv.kind.value, "minutes": sv.duration_minutes}
            for sv in catalog.services_of(s, practice_id)
            if sv.kind in kinds
        ]
        providers = [{"id": p.id, "name": p.name} for p in catalog.providers_of(s, practice_id)]
    today = clock.now().astimezone(zone).date()
    return jsonify(
        services=offered, providers=providers, today=today.isoformat(), timezone=str(zone)
    )


@bp.get("/api/appointments/slots")
@practice_view(COORDINATING)
def slots(practice_id: int) -> Response:
    service_id = parse_id(request.args.get("service_id"), "service_id")
    provider_id = parse_id(request.args.get("provider_id"), "provider_id", optional=True)
    ignore = parse_id(request.args.get("ignore"), "ignore", optional=True)
    day = parse_day(request.args.get("day"))
    now = clock.now()
    with session_scope() as s:
        zone = ZoneInfo(queries.practice(s, practice_id).timezone)
        assert service_id is not None
        if ignore is not None:
            services.appointment_for_practice(s, practice_id, ignore)
        found = services.free_slots(
            s, practice_id, service_id, provider_id, day, now, ignore=ignore
        )
        names = {p.id: p.name for p in catalog.providers_of(s, practice_id)}
        connection = connection_of(s, practice_id)
        synced = connection.busy_synced_at if connection is not None else now
    if connection is not None:
        _refresh_busy_if_stale(practice_id, synced, now)
    # One entry per start time: "any provider" books whoever is free then.
    seen: dict[str, dict[str, Any]] = {}
    for slot in found:
        start = slot.start.astimezone(UTC).isoformat()
        entry = seen.setdefault(
            start,
            {"start": start, "label": _time_label(slot.start, zone), "providers": []},
        )
        if slot.provider_id is not None:
            entry["providers"].append(names.get(slot.provider_id, ""))
    return jsonify(day=day.isoformat(), slots=list(seen.values()))


@bp.post("/api/appointments")
@practice_view(COORDINATING)
def book(practice_id: int) -> tuple[Response, int]:
    """Book outside a call: a patient (by id, or by phone for a callback) into a free slot."""
    data = _payload()
    request_ = parse_booking(data)
    if request_ is None:
        raise InvalidInput("pick a service and a time", "start")
    patient_id = parse_id(data.get("patient_id"), "patient_id", optional=True)
    task_id = parse_id(data.get("task_id"), "task_id", optional=True)
    now = clock.now()
    with session_scope() as s:
        source, lead_id = _source_of(s, practice_id, task_id)
        if patient_id is None:
            patient = find_or_add_patient(s, practice_id, str(data.get("phone") or "")[:40], now)
            if patient is None:
                raise InvalidInput("the phone number is not a number we can text or call", "phone")
        else:
            patient = s.get(Patient, patient_id)
            if patient is None or patient.practice_id != practice_id:
                raise NotFound(f"no patient {patient_id}")
        appointment = services.book(
            s,
            practice_id,
            patient.id,
            request_.service_id,
            request_.start,
            _me(),
            now,
            provider_id=request_.provider_id,
            source=source,
            lead_id=lead_id,
            location=request_.location,
            note=str(data.get("note") or "")[:1000] or None,
        )
        appointment_id, start = appointment.id, appointment.start_at
    return jsonify(id=appointment_id, start=start.isoformat()), 201


def _source_of(
    s: Any, practice_id: int, task_id: int | None
) -> tuple[AppointmentSource, int | None]:
    """Booked from a callback task: a web lead's task makes it a lead's booking (the measures
    count bookings per lead source); otherwise the console's."""
    if task_id is None:
        return AppointmentSource.CONSOLE, None
    task = queries.callback_in_practice(s, practice_id, task_id)
    lead_id = s.scalars(select(Lead.id).where(Lead.callback_task_id == task.id)).first()
    return (AppointmentSource.LEAD, lead_id) if lead_id else (AppointmentSource.CONSOLE, None)


def _changed(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "status": appointment.status.value,
        "start": appointment.start_at.isoformat(),
    }


@bp.post("/api/appointments/<int:appointment_id>/cancel")
@practice_view(COORDINATING)
def cancel(practice_id: int, appointment_id: int) -> Response:
    note = str(_payload().get("note") or "")[:1000] or None
    with session_scope() as s:
        body = _changed(
            services.cancel(s, appointment_id, _me(), clock.now(), note, practice_id=practice_id)
        )
    return jsonify(body)


@bp.post("/api/appointments/<int:appointment_id>/reschedule")
@practice_view(COORDINATING)
def reschedule(practice_id: int, appointment_id: int) -> Response:
    data = _payload()
    with session_scope() as s:
        services.appointment_for_practice(s, practice_id, appointment_id)  # 404 before 422
        start = parse_instant(data.get("start"), "start")
        provider_id = parse_id(data.get("provider_id"), "provider_id", optional=True)
        body = _changed(
            services.reschedule(
                s,
                appointment_id,
                start,
                _me(),
                clock.now(),
                provider_id=provider_id,
                practice_id=practice_id,
            )
        )
    return jsonify(body)


@bp.post("/api/appointments/<int:appointment_id>/status")
@practice_view(COORDINATING)
def set_status(practice_id: int, appointment_id: int) -> Response:
    status = str(_payload().get("status") or "")[:40]
    with session_scope() as s:
        services.appointment_for_practice(s, practice_id, appointment_id)  # 404 before 422
        body = _changed(
            services.mark(s, appointment_id, status, _me(), clock.now(), practice_id=practice_id)
        )
    return jsonify(body)


# --- pages -----------------------------------------------------------------------------------


def _rows(
    appointments: list[Appointment], patients: dict[int, Patient], zone: ZoneInfo
) -> list[dict[str, Any]]:
    now = clock.now()
    return [
        {
            "id": a.id,
            "time": _time_label(a.start_at, zone),
            "end": _time_label(a.end_at, zone),
            "day": a.start_at.astimezone(zone).strftime("%a %b %-d"),
            "patient": queries.patient_name(patients.get(a.patient_id)) or patient_label(None),
            "phone": patients[a.patient_id].phone if a.patient_id in patients else "",
            "patient_id": a.patient_id,
            "service": a.service.name,
            "service_id": a.service_id,
            "provider": a.provider.name if a.provider else "",
            "status": a.status.value,
            "status_label": STATUS_LABELS[a.status.value],
            "confirmed": a.confirmed_at is not None,
            "source": a.source.value,
            "calendar": "in the calendar" if a.in_calendar else "not yet in the calendar",
            "movable": a.status in services.MOVABLE,
            "next": sorted(m.value for m in services.allowed_moves(a, now)),
        }
        for a in appointments
    ]


def _patients(s: Any, appointments: list[Appointment]) -> dict[int, Patient]:
    ids = {a.patient_id for a in appointments}
    return {p.id: p for p in (s.get(Patient, i) for i in ids) if p is not None}


def render_page(template: str, practice_id: int, **context: Any) -> str:
    user = current_user()
    assert user is not None
    with session_scope() as s:
        practice = queries.practice(s, practice_id)
        memberships = auth.member_practices(s, user.id)
        connection = connection_of(s, practice_id)
        calendar = {
            "connected": connection is not None,
            "error": connection.last_error if connection is not None else None,
        }
    return render_template(
        template,
        practice=practice,
        practice_id=practice_id,
        memberships=memberships,
        role=role(),
        sandbox=app_settings().sandbox,
        calendar=calendar,
        **context,
    )


@bp.get("/appointments")
@practice_view(COORDINATING)
def day_view(practice_id: int) -> str:
    with session_scope() as s:
        zone = ZoneInfo(queries.practice(s, practice_id).timezone)
        raw = request.args.get("day", "")
        day = parse_day(raw) if raw else clock.now().astimezone(zone).date()
        start, end = catalog.local_day_bounds(day, zone)
        found = catalog.appointments_between(s, practice_id, start, end)
        rows = _rows(found, _patients(s, found), zone)
    return render_page(
        "appointments.html",
        practice_id,
        day=day,
        day_label=day.strftime("%A, %B %-d, %Y"),
        previous=(day - timedelta(days=1)).isoformat(),
        following=(day + timedelta(days=1)).isoformat(),
        rows=rows,
        statuses=STATUS_LABELS,
    )


@bp.get("/appointments/book")
@practice_view(COORDINATING)
def book_page(practice_id: int) -> str:
    """The booking form for a number (a callback, an inbox thread); the patient is found or
    added when the booking is saved, not when the page is shown."""
    phone = str(request.args.get("phone", ""))[:40].replace("\x00", "")
    task_id = parse_id(request.args.get("task"), "task", optional=True)
    with session_scope() as s:
        if task_id is not None:
            queries.callback_in_practice(s, practice_id, task_id)
        patient = _patient_by_phone(s, practice_id, phone)
        return _patient_page(s, practice_id, patient, phone, task_id)


def _patient_by_phone(s: Any, practice_id: int, phone: str) -> Patient | None:
    try:
        e164 = to_e164(phone)
    except DomainError:
        return None
    found: Patient | None = s.scalars(
        select(Patient).where(Patient.practice_id == practice_id, Patient.phone == e164)
    ).one_or_none()
    return found


@bp.get("/patients/<int:patient_id>/appointments")
@practice_view(COORDINATING)
def patient_appointments(practice_id: int, patient_id: int) -> str:
    with session_scope() as s:
        patient = s.get(Patient, patient_id)
        if patient is None or patient.practice_id != practice_id:
            raise NotFound("no such patient")
        return _patient_page(s, practice_id, patient, patient.phone)


def _patient_page(
    s: Any, practice_id: int, patient: Patient | None, phone: str, task_id: int | None = None
) -> str:
    zone = ZoneInfo(queries.practice(s, practice_id).timezone)
    found = catalog.appointments_of_patient(s, practice_id, patient.id) if patient else []
    rows = _rows(found, {patient.id: patient} if patient else {}, zone)
    return render_page(
        "book.html",
        practice_id,
        patient=patient,
        patient_name=queries.patient_name(patient),
        phone=patient.phone if patient else phone,
        rows=rows,
        statuses=STATUS_LABELS,
        day_url=url_for("appointments_console.day_view", practice_id=practice_id),
        task_id=task_id,
    )
