"""What the inbound-call webhook stores, on PostgreSQL (one statement) and SQLite (step by step):
the call, its patient (created on the number's first call), one "incoming" event; a replay of the
same CallSid stores nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from contact_center.cli import upgrade_database
from contact_center.models import Patient
from contact_center.simulator import new_sid
from ivr import services
from ivr.events import IncomingCall
from ivr.models import Call, CallEvent, CallStatus, Direction
from tests.factories import make_practice

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    upgrade_database(url)
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_session(
    request: pytest.FixtureRequest, session: Session, sqlite_session: Session
) -> Session:
    return session if request.param == "postgresql" else sqlite_session


def incoming(s: Session, to: str, from_: str, call_sid: str | None = None) -> IncomingCall:
    event = IncomingCall(call_sid or new_sid("CA"), from_, to, "ringing")
    script = services.handle_incoming(s, event, NOW)
    assert "we would like to record this call" in str(script)
    return event


def events_of(s: Session, call: Call) -> list[tuple[str, dict[str, str], str | None]]:
    rows = s.execute(
        select(CallEvent.kind, CallEvent.detail, CallEvent.dedupe_key)
        .where(CallEvent.call_id == call.id)
        .order_by(CallEvent.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_new_number_becomes_a_patient_and_the_call_is_stored(any_session: Session) -> None:
    s = any_session
    practice = make_practice(s)
    event = incoming(s, practice.phone_number, "+1 (310) 555-0142")

    call = s.scalars(select(Call).where(Call.call_sid == event.call_sid)).one()
    patient = s.scalars(select(Patient).where(Patient.practice_id == practice.id)).one()
    assert (patient.phone, patient.created_at) == ("+13105550142", NOW)
    assert call.practice_id == practice.id and call.patient_id == patient.id
    assert (call.direction, call.status, call.after_hours) == (
        Direction.INBOUND,
        CallStatus.RINGING,
        False,
    )
    assert (call.from_number, call.to_number, call.started_at) == (
        "+1 (310) 555-0142",
        practice.phone_number,
        NOW,
    )
    assert call.menu_choice is None and call.recording_allowed is None
    assert events_of(s, call) == [("incoming", {"from": "+1 (310) 555-0142"}, "incoming")]


def test_a_known_number_calls_again_as_the_same_patient(any_session: Session) -> None:
    s = any_session
    practice = make_practice(s)
    first = incoming(s, practice.phone_number, "+13105550142")
    second = incoming(s, practice.phone_number, "+13105550142")

    calls = s.scalars(select(Call).where(Call.call_sid.in_([first.call_sid, second.call_sid])))
    assert len({c.patient_id for c in calls}) == 1
    assert s.scalar(select(func.count()).select_from(Patient)) == 1


def test_a_replayed_webhook_stores_nothing_more(any_session: Session) -> None:
    s = any_session
    practice = make_practice(s)
    event = incoming(s, practice.phone_number, "+13105550142")
    incoming(s, practice.phone_number, "+13105550142", call_sid=event.call_sid)

    call = s.scalars(select(Call).where(Call.call_sid == event.call_sid)).one()
    assert [kind for kind, _, _ in events_of(s, call)] == ["incoming"]
    assert s.scalar(select(func.count()).select_from(Patient)) == 1


def test_a_withheld_number_is_stored_without_a_patient(any_session: Session) -> None:
    s = any_session
    practice = make_practice(s)
    event = incoming(s, practice.phone_number, "Anonymous")

    call = s.scalars(select(Call).where(Call.call_sid == event.call_sid)).one()
    assert call.patient_id is None and call.from_number == "Anonymous"
    assert s.scalar(select(func.count()).select_from(Patient)) == 0
