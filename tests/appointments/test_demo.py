"""The demo practice has providers, services and a week of appointments in several statuses."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments.models import Appointment, AppointmentChange, Provider, Service
from contact_center import demo
from tests.conftest import at_local


def test_the_demo_week_of_appointments(session: Session) -> None:
    now = at_local(demo.DEMO_ZONE, 2026, 12, 9, 10, 30)  # a Wednesday morning
    demo.seed(session, now)
    assert len(session.scalars(select(Service)).all()) == 4
    assert len(session.scalars(select(Provider)).all()) == 2
    appointments = session.scalars(select(Appointment)).all()
    statuses = Counter(a.status.value for a in appointments)
    assert len(appointments) >= 12
    assert {"fulfilled", "noshow", "cancelled", "arrived", "booked"} <= set(statuses)
    assert any(a.confirmed_at is not None for a in appointments)
    changes = session.scalars(select(AppointmentChange)).all()
    assert len(changes) > len(appointments)  # booked, then marked / confirmed / cancelled
    demo.seed(session, now)  # every start seeds again: nothing more
    assert len(session.scalars(select(Appointment)).all()) == len(appointments)
