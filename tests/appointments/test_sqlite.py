"""On SQLite (``make run``): the partial unique index refuses a second held booking of one
provider's slot, the booking service turns that into SlotTaken, and a cancelled booking frees
its slot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from appointments import catalog, services
from appointments.models import Appointment, AppointmentStatus
from appointments.services import SlotTaken, _flush_guarded
from contact_center import practices
from contact_center.cli import upgrade_database
from contact_center.db import make_engine
from contact_center.patients import find_or_add_patient
from tests.conftest import at_local

ZONE = "Europe/Paris"
NOW = at_local(ZONE, 2026, 12, 1, 9)


def test_sqlite_refuses_a_second_held_booking_of_one_slot(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    session = Session(engine)
    try:
        practice = practices.create_practice(
            session,
            name="Glow Paris",
            number="+14155550177",
            timezone=ZONE,
            hours="mon-fri 09:00-17:00",
            consent_mode="all_party",
            greeting=None,
        )
        service = catalog.add_service(session, practice.id, "Consultation", 30, "consultation")
        dana = catalog.add_provider(session, practice.id, "Dana")
        patient = find_or_add_patient(session, practice.id, "+33612345678", NOW)
        assert patient is not None
        start = at_local(ZONE, 2026, 12, 7, 10)
        first = services.book(session, practice.id, patient.id, service.id, start, "system", NOW)
        assert first.provider_id == dana.id
        session.commit()
        with pytest.raises(SlotTaken):
            services.book(session, practice.id, patient.id, service.id, start, "system", NOW)
        # The index itself, bypassing the service's check:
        session.add(
            Appointment(
                practice_id=practice.id,
                patient_id=patient.id,
                service_id=service.id,
                provider_id=dana.id,
                start_at=start,
                end_at=first.end_at,
                source="console",
                status=AppointmentStatus.BOOKED,
            )
        )
        with pytest.raises(SlotTaken):
            _flush_guarded(session)
        session.rollback()
        services.cancel(session, first.id, "system", NOW)
        again = services.book(session, practice.id, patient.id, service.id, start, "system", NOW)
        session.commit()
        assert again.id != first.id and again.start_at == start
    finally:
        session.close()
        engine.dispose()
