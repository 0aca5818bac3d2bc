"""Show, no-show and confirmation rates and booked-to-confirmed time, per practice and lead
source: computed, on the wallboard, and in the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from appointments import catalog, services
from appointments.measures import appointment_measures
from appointments.models import AppointmentSource
from appointments.reminder_jobs import reconcile_reminders
from contact_center import clock
from contact_center.leads.models import Lead
from contact_center.patients import find_or_add_patient
from tests.conftest import at_local
from tests.factories import make_practice
from tests.outbound import run_jobs
from tests.web.conftest import log_in, make_login

LA = "America/Los_Angeles"


def test_measures_per_practice_and_lead_source_on_the_wallboard_and_in_csv(
    session: Session, client: FlaskClient, redis: Redis
) -> None:
    practice = make_practice(
        session, name="Glow Aesthetics", timezone=LA, hours="mon-sat 09:00-18:00"
    )
    service = catalog.add_service(session, practice.id, "Consult", 60, "consultation")
    booked_at = at_local(LA, 2026, 12, 1, 9)
    clock.pin(booked_at)
    made = []
    for n, source in enumerate(["=cmd|' /C calc'!A0", "Instagram", "Instagram", None, None, None]):
        patient = find_or_add_patient(session, practice.id, f"+1310555{1000 + n}", booked_at)
        assert patient is not None
        lead_id = None
        if source is not None:
            lead = Lead(
                practice_id=practice.id,
                patient_id=patient.id,
                name="P",
                phone=patient.phone,
                source=source,
                created_at=booked_at,
            )
            session.add(lead)
            session.flush()
            lead_id = lead.id
        made.append(
            services.book(
                session,
                practice.id,
                patient.id,
                service.id,
                at_local(LA, 2026, 12, 4, 9 + n),
                "system",
                booked_at,
                lead_id=lead_id,
                source=AppointmentSource.LEAD if lead_id else AppointmentSource.CALL,
            )
        )
    for hour in range(9, 15):  # the 48-hour reminders go out
        clock.pin(at_local(LA, 2026, 12, 2, hour))
        reconcile_reminders()
        run_jobs(redis)
    # Two Instagram patients confirm, 3 and 5 hours after booking; a call patient after 1 h.
    for appointment, hours in ((made[1], 3), (made[2], 5), (made[3], 1)):
        services.confirm(session, appointment.id, "patient", booked_at + timedelta(hours=hours))
    after = at_local(LA, 2026, 12, 4, 20)
    for appointment, status in zip(
        made,
        ["fulfilled", "fulfilled", "noshow", "arrived", "noshow", "entered-in-error"],
        strict=True,
    ):
        if status == "fulfilled":
            services.mark(session, appointment.id, "arrived", "system", after)
        services.mark(session, appointment.id, status, "system", after)
    clock.pin(after)
    rows = {m.source: m for m in appointment_measures(session, practice.id, booked_at, after)}
    everyone = rows["all"]
    assert (everyone.appointments, everyone.showed, everyone.no_shows) == (5, 3, 2)
    assert everyone.show_rate == 0.6 and everyone.no_show_rate == 0.4
    assert (everyone.reminded, everyone.confirmed) == (5, 3)
    assert everyone.confirmation_rate == 0.6 and everyone.booked_to_confirmed_h == 3.0
    instagram = rows["Instagram"]
    assert (instagram.show_rate, instagram.confirmation_rate) == (0.5, 1.0)
    assert instagram.booked_to_confirmed_h == 4.0
    assert rows["call"].appointments == 2 and rows["call"].show_rate == 0.5

    make_login(session, practice, "owner")
    log_in(client, "owner@example.test")
    board = client.get(f"/p/{practice.id}/wallboard").get_data(as_text=True)
    assert 'data-testid="appointment-measures"' in board and "Instagram" in board
    response = client.get(f"/p/{practice.id}/wallboard/appointments.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_source = {row["lead_source"]: row for row in table}
    assert by_source["all"]["show_rate"] == "0.6000"
    assert by_source["all"]["confirmation_rate"] == "0.6000"
    assert by_source["Instagram"]["booked_to_confirmed_hours_median"] == "4.0000"
    # A lead source typed into a web form is never a spreadsheet formula.
    assert "'=cmd|' /C calc'!A0" in by_source
