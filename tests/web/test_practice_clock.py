"""What a practice sees on its own clock: message times in the inbox and the sandbox's Try-it
page outside office hours (found walking the demo at 06:30 in Los Angeles, 14:30 UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock, demo
from contact_center.hours import OpeningHours
from contact_center.messaging.services import record_inbound
from contact_center.models import Practice, Role
from ivr.models import Call, CallStatus, Direction
from tests.factories import make_practice
from tests.web.conftest import log_in, make_login

# Tuesday 14:37 UTC = 6:37 AM in Los Angeles, before a 9-to-6 practice opens.
EARLY = datetime(2026, 11, 24, 14, 37, tzinfo=UTC)


@pytest.fixture
def early() -> Iterator[datetime]:
    clock.pin(EARLY)
    yield EARLY
    clock.pin(None)


def test_inbox_shows_message_times_on_the_practice_clock_not_utc(
    app: Flask, session: Session, early: datetime
) -> None:
    practice = make_practice(session, timezone="America/Los_Angeles")
    make_login(session, practice, "ava")
    inbound = record_inbound(
        session, practice.id, "+13105550161", "Any openings this week?", "SM" + "1" * 32, early
    )
    session.commit()
    client = app.test_client()
    log_in(client, "ava@example.test")
    page = client.get(f"/p/{practice.id}/inbox?c={inbound.conversation.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Any openings this week?" in html
    assert "Nov 24, 6:37 AM" in html
    assert "14:37" not in html and " UTC" not in html


def test_try_it_outside_office_hours_says_the_softphone_will_not_ring(
    app: Flask, session: Session, early: datetime
) -> None:
    practice = make_practice(
        session, timezone="America/Los_Angeles", hours="mon-fri 09:00-18:00, sat 10:00-14:00"
    )
    make_login(session, practice, "adele", Role.ADMIN)
    session.commit()
    client = app.test_client()
    log_in(client, "adele@example.test")
    html = client.get(f"/p/{practice.id}/try").get_data(as_text=True)
    assert 'data-testid="try-closed"' in html
    assert "Tue 6:37 AM" in html and "Tue 9:00 AM" in html  # now and the next opening, local
    assert "Monday to Friday, 9 AM to 6 PM" in html
    assert f"/p/{practice.id}/settings" in html  # the admin is told where to change the hours


def test_try_it_during_office_hours_has_no_closed_note(
    app: Flask, session: Session, early: datetime
) -> None:
    practice = make_practice(session, timezone="America/Los_Angeles", hours="mon-sun 00:00-24:00")
    make_login(session, practice, "ava")
    session.commit()
    client = app.test_client()
    log_in(client, "ava@example.test")
    html = client.get(f"/p/{practice.id}/try").get_data(as_text=True)
    assert "try-closed" not in html


def test_favicon_is_answered_without_an_error(app: Flask) -> None:
    assert app.test_client().get("/favicon.ico").status_code == 204


def test_call_review_list_and_call_page_show_the_practice_clock(
    app: Flask, session: Session, early: datetime
) -> None:
    practice = make_practice(session, timezone="America/Los_Angeles")
    make_login(session, practice, "quinn", Role.QA_LEAD)
    call = Call(
        practice_id=practice.id,
        call_sid="CA" + "7" * 32,
        direction=Direction.INBOUND,
        from_number="+13105550142",
        to_number=practice.phone_number,
        status=CallStatus.COMPLETED,
        started_at=early,
    )
    session.add(call)
    session.commit()
    client = app.test_client()
    log_in(client, "quinn@example.test")
    listing = client.get(f"/p/{practice.id}/qa?day=2026-11-24").get_data(as_text=True)
    assert "Nov 24, 6:37 AM" in listing and "14:37" not in listing
    detail = client.get(f"/p/{practice.id}/calls/{call.id}").get_data(as_text=True)
    assert "Nov 24, 2026 6:37 AM" in detail and " UTC" not in detail


def test_demo_seeded_before_opening_has_its_sample_calls_in_office_hours(
    app: Flask, session: Session
) -> None:
    """Seeded at 6:37 AM in Los Angeles, the demo's answered calls are yesterday afternoon's,
    not calls "answered" at 3 AM while the practice was closed."""
    assert demo.seed(session, EARLY).startswith("demo practice created")
    practice = session.scalars(select(Practice).where(Practice.name == demo.DEMO_NAME)).one()
    zone = ZoneInfo(practice.timezone)
    hours = OpeningHours.parse(practice.hours_spec)
    calls = session.scalars(select(Call).where(Call.practice_id == practice.id)).all()
    assert calls
    for call in calls:
        assert call.started_at <= EARLY
        assert hours.is_open(call.started_at, zone), call.started_at.astimezone(zone)
