"""The console's booking: the wrap-up's "Booked consultation" with its appointment, slots,
the day view, cancel / reschedule / marks, and the booking page for a callback's number."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments.models import Appointment, AppointmentChange, AppointmentSource
from contact_center import clock
from contact_center.leads.models import Lead
from contact_center.models import Patient, Practice, Role
from contact_center.patients import find_or_add_patient
from ivr.models import Call, CallStatus, Direction
from qa.models import CallOutcome, Disposition
from routing.models import CallbackReason
from routing.services import create_callback_task
from tests.conftest import at_local
from tests.factories import make_practice
from tests.web.conftest import log_in, make_login

ZONE = "America/Denver"
NOW = at_local(ZONE, 2026, 12, 7, 8)  # Monday 8 AM; the practice opens at 9
DAY = "2026-12-07"


@pytest.fixture
def glow(session: Session, client: FlaskClient, redis: Redis) -> dict[str, Any]:
    clock.pin(NOW)
    practice = make_practice(
        session, name="Glow Aesthetics", timezone=ZONE, hours="mon-fri 09:00-17:00"
    )
    consult = catalog.add_service(session, practice.id, "Consultation", 30, "consultation")
    botox = catalog.add_service(session, practice.id, "Botox", 45, "treatment")
    lee = catalog.add_provider(session, practice.id, "Dr. Lee")
    user = make_login(session, practice, "ava", Role.COORDINATOR)
    patient = find_or_add_patient(session, practice.id, "+17205550188", NOW)
    assert patient is not None
    patient.first_name, patient.last_name = "Maria", "Lopez"
    call = Call(
        practice_id=practice.id,
        call_sid="CA" + "a" * 32,
        direction=Direction.INBOUND,
        from_number=patient.phone,
        to_number=practice.phone_number,
        patient_id=patient.id,
        status=CallStatus.COMPLETED,
        answered_by_id=user.id,
        started_at=NOW - timedelta(minutes=5),
    )
    session.add(call)
    session.flush()
    csrf = log_in(client, "ava@example.test")
    return {
        "practice": practice,
        "consult": consult,
        "botox": botox,
        "lee": lee,
        "user": user,
        "patient": patient,
        "call": call,
        "csrf": csrf,
    }


def _post(client: FlaskClient, glow: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
    return client.post(
        f"/p/{glow['practice'].id}{path}", json=body, headers={"X-CSRF-Token": glow["csrf"]}
    )


def _slots(
    client: FlaskClient, glow: dict[str, Any], service: int, **extra: Any
) -> list[dict[str, Any]]:
    query = {"service_id": service, "day": DAY, **extra}
    response = client.get(f"/p/{glow['practice'].id}/api/appointments/slots", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    slots: list[dict[str, Any]] = response.get_json()["slots"]
    return slots


def test_booked_consultation_without_a_time_still_fails_as_before(
    client: FlaskClient, glow: dict[str, Any]
) -> None:
    response = _post(
        client, glow, f"/api/calls/{glow['call'].id}/outcome", {"outcome": "booked_consultation"}
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "a booked consultation needs its date and time"


def test_booked_consultation_from_wrap_up_saves_the_appointment_and_the_outcome(
    session: Session, client: FlaskClient, glow: dict[str, Any]
) -> None:
    """The issue's failing case: "Booked consultation" at wrap-up, now with its booking form."""
    options = client.get(
        f"/p/{glow['practice'].id}/api/appointments/options",
        query_string={"outcome": "booked_consultation"},
    ).get_json()
    assert [s["name"] for s in options["services"]] == ["Consultation"]  # no treatment offered
    assert options["providers"] == [{"id": glow["lee"].id, "name": "Dr. Lee"}]
    assert options["today"] == DAY
    slots = _slots(client, glow, glow["consult"].id)
    assert slots[0]["label"] == "9:00 AM" and slots[0]["providers"] == ["Dr. Lee"]
    two_pm = next(s for s in slots if s["label"] == "2:00 PM")

    response = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {
            "outcome": "booked_consultation",
            "note": "new patient",
            "service_id": str(glow["consult"].id),
            "provider_id": "",
            "start": two_pm["start"],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    detail = response.get_json()["outcome"]
    appointment = session.get(Appointment, detail["appointment_id"])
    assert appointment is not None
    assert appointment.start_at == at_local(ZONE, 2026, 12, 7, 14)
    assert appointment.end_at == at_local(ZONE, 2026, 12, 7, 14, 30)
    assert appointment.provider_id == glow["lee"].id
    assert appointment.source is AppointmentSource.CALL and appointment.call_id == glow["call"].id
    assert appointment.patient_id == glow["patient"].id
    outcome = session.scalars(
        select(CallOutcome).where(CallOutcome.call_id == glow["call"].id)
    ).one()
    assert outcome.disposition is Disposition.BOOKED_CONSULTATION
    assert outcome.booked_for == appointment.start_at
    # The slot is gone for everyone else.
    assert "2:00 PM" not in [s["label"] for s in _slots(client, glow, glow["consult"].id)]
    # The form sent twice (a retried click) books once.
    again = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {
            "outcome": "booked_consultation",
            "service_id": str(glow["consult"].id),
            "start": two_pm["start"],
        },
    )
    assert (
        again.status_code == 200 and again.get_json()["outcome"]["appointment_id"] == appointment.id
    )
    assert session.scalar(select(func.count()).select_from(Appointment)) == 1
    # It shows on the day view, in the practice's time zone.
    page = client.get(f"/p/{glow['practice'].id}/appointments", query_string={"day": DAY})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2:00 PM–2:30 PM" in html
    assert "Maria Lopez" in html and "Dr. Lee" in html


def test_a_taken_slot_rolls_back_the_outcome_too(
    session: Session, client: FlaskClient, glow: dict[str, Any]
) -> None:
    start = _slots(client, glow, glow["consult"].id)[0]["start"]
    other = find_or_add_patient(session, glow["practice"].id, "+17205550199", NOW)
    assert other is not None
    first = _post(
        client,
        glow,
        "/api/appointments",
        {"patient_id": other.id, "service_id": glow["consult"].id, "start": start},
    )
    assert first.status_code == 201
    response = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {
            "outcome": "booked_consultation",
            "service_id": glow["consult"].id,
            "provider_id": glow["lee"].id,
            "start": start,
        },
    )
    assert response.status_code == 409 and "no longer free" in response.get_json()["error"]
    assert (
        session.scalars(select(CallOutcome).where(CallOutcome.call_id == glow["call"].id)).first()
        is None
    )


def test_booked_treatment_needs_a_treatment_service(
    client: FlaskClient, glow: dict[str, Any]
) -> None:
    start = _slots(client, glow, glow["consult"].id)[0]["start"]
    wrong = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {"outcome": "booked_treatment", "service_id": glow["consult"].id, "start": start},
    )
    assert wrong.status_code == 422 and "treatment service" in wrong.get_json()["error"]
    start = _slots(client, glow, glow["botox"].id)[0]["start"]
    right = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {"outcome": "booked_treatment", "service_id": glow["botox"].id, "start": start},
    )
    assert right.status_code == 200 and right.get_json()["outcome"]["appointment_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"service_id": "²", "start": "2026-12-07T16:00:00+00:00"},
        {"service_id": "1", "start": "tomorrow\x00"},
        {"service_id": "1", "start": "2026-12-07T16:00:00"},  # no offset
        {"service_id": "99999999999", "start": "2026-12-07T16:00:00+00:00"},
        {"service_id": "1", "provider_id": "-3", "start": "2026-12-07T16:00:00+00:00"},
    ],
)
def test_bad_booking_fields_are_422_not_500(
    client: FlaskClient, glow: dict[str, Any], body: dict[str, str]
) -> None:
    response = _post(
        client,
        glow,
        f"/api/calls/{glow['call'].id}/outcome",
        {"outcome": "booked_consultation", **body},
    )
    assert response.status_code == 422


def test_cancel_reschedule_and_marks_from_the_day_view_each_write_a_change(
    session: Session, client: FlaskClient, glow: dict[str, Any]
) -> None:
    slots = _slots(client, glow, glow["consult"].id)
    booked = _post(
        client,
        glow,
        "/api/appointments",
        {"phone": "(720) 555-0177", "service_id": glow["consult"].id, "start": slots[4]["start"]},
    )
    assert booked.status_code == 201
    aid = booked.get_json()["id"]
    patient = session.get(Patient, session.get(Appointment, aid).patient_id)  # type: ignore[union-attr]
    assert patient is not None and patient.phone == "+17205550177"

    moved = _post(client, glow, f"/api/appointments/{aid}/reschedule", {"start": slots[8]["start"]})
    assert moved.status_code == 200 and moved.get_json()["start"] == slots[8]["start"].replace(
        "Z", "+00:00"
    )
    early = _post(client, glow, f"/api/appointments/{aid}/status", {"status": "noshow"})
    assert early.status_code == 422  # not before its time
    clock.pin(NOW + timedelta(hours=4))
    assert (
        _post(client, glow, f"/api/appointments/{aid}/status", {"status": "arrived"}).status_code
        == 200
    )
    assert (
        _post(client, glow, f"/api/appointments/{aid}/status", {"status": "fulfilled"}).status_code
        == 200
    )
    assert _post(client, glow, f"/api/appointments/{aid}/cancel", {}).status_code == 422
    changes = session.scalars(
        select(AppointmentChange)
        .where(AppointmentChange.appointment_id == aid)
        .order_by(AppointmentChange.id)
    ).all()
    assert [c.to_status.value for c in changes] == ["booked", "booked", "arrived", "fulfilled"]
    assert all(c.by_user_id == glow["user"].id for c in changes)

    second = _post(
        client,
        glow,
        "/api/appointments",
        {"patient_id": patient.id, "service_id": glow["consult"].id, "start": slots[-1]["start"]},
    ).get_json()["id"]
    assert (
        _post(client, glow, f"/api/appointments/{second}/cancel", {"note": "sick"}).status_code
        == 200
    )
    page = client.get(f"/p/{glow['practice'].id}/appointments", query_string={"day": DAY}).get_data(
        as_text=True
    )
    assert "Fulfilled" in page and "Cancelled" in page
    patient_page = client.get(f"/p/{glow['practice'].id}/patients/{patient.id}/appointments")
    assert patient_page.status_code == 200 and "Fulfilled" in patient_page.get_data(as_text=True)


def test_another_practice_sees_none_of_it(
    session: Session, client: FlaskClient, glow: dict[str, Any]
) -> None:
    other: Practice = make_practice(session)
    elsewhere = catalog.add_service(session, other.id, "Consultation", 30, "consultation")
    patient = find_or_add_patient(session, other.id, "+17205550100", NOW)
    assert patient is not None
    assert client.get(f"/p/{other.id}/appointments").status_code == 404
    # a service id of another practice, through this practice's URL
    response = client.get(
        f"/p/{glow['practice'].id}/api/appointments/slots",
        query_string={"service_id": elsewhere.id, "day": DAY},
    )
    assert response.status_code == 404
    assert (
        client.get(f"/p/{glow['practice'].id}/patients/{patient.id}/appointments").status_code
        == 404
    )


def test_the_booking_page_for_a_callbacks_number(client: FlaskClient, glow: dict[str, Any]) -> None:
    page = client.get(
        f"/p/{glow['practice'].id}/appointments/book", query_string={"phone": "+17205550188"}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Maria Lopez" in html and 'name="patient_id"' in html
    unknown = client.get(
        f"/p/{glow['practice'].id}/appointments/book", query_string={"phone": "nonsense\x00"}
    )
    assert unknown.status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-02-30", "²", "2026-1-1"])
def test_odd_days_are_422_not_500(client: FlaskClient, glow: dict[str, Any], day: str) -> None:
    pid = glow["practice"].id
    slots = client.get(
        f"/p/{pid}/api/appointments/slots",
        query_string={"service_id": glow["consult"].id, "day": day},
    )
    assert slots.status_code == 422
    assert client.get(f"/p/{pid}/appointments", query_string={"day": day}).status_code == 422


def test_booking_a_web_leads_callback_counts_as_the_leads_booking(
    session: Session, client: FlaskClient, glow: dict[str, Any]
) -> None:
    practice = glow["practice"]
    task = create_callback_task(session, practice, "+17205550166", CallbackReason.LEAD, NOW)
    lead = Lead(
        practice_id=practice.id,
        callback_task_id=task.id,
        name="Riley Brooks",
        phone="+17205550166",
        source="website",
        sms_consent=True,
        created_at=NOW,
    )
    session.add(lead)
    session.flush()
    console = client.get(f"/p/{practice.id}/console").get_data(as_text=True)
    assert f"/p/{practice.id}/appointments/book?phone=%2B17205550166&amp;task={task.id}" in console
    page = client.get(
        f"/p/{practice.id}/appointments/book", query_string={"phone": lead.phone, "task": task.id}
    )
    assert f'name="task_id" value="{task.id}"' in page.get_data(as_text=True)
    start = _slots(client, glow, glow["consult"].id)[0]["start"]
    booked = _post(
        client,
        glow,
        "/api/appointments",
        {
            "phone": lead.phone,
            "task_id": str(task.id),
            "service_id": glow["consult"].id,
            "start": start,
        },
    )
    assert booked.status_code == 201
    appointment = session.get(Appointment, booked.get_json()["id"])
    assert appointment is not None
    assert appointment.source is AppointmentSource.LEAD and appointment.lead_id == lead.id
    # another practice's task id is refused before anything is booked
    other = make_practice(session)
    foreign = create_callback_task(session, other, "+17205550167", CallbackReason.LEAD, NOW)
    refused = _post(
        client,
        glow,
        "/api/appointments",
        {
            "phone": "+17205550167",
            "task_id": foreign.id,
            "service_id": glow["consult"].id,
            "start": start,
        },
    )
    assert refused.status_code == 404
