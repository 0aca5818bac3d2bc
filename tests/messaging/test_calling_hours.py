"""State calling hours: the stricter of federal (8-21) and the callee's state, from the
number's area code (else the practice's), applied by the one quiet-hours check."""

from __future__ import annotations

from datetime import time

import phonenumbers
import pytest
from flask.testing import FlaskClient
from phonenumbers import geocoder
from redis import Redis
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.messaging import calling_hours, quiet_hours, services
from contact_center.messaging.models import MessageKind
from contact_center.models import Practice
from tests.conftest import at_local
from tests.dialer.support import attempts, post_lead
from tests.factories import make_coordinator, make_practice
from tests.outbound import rest_requests, run_jobs

LA = "America/Los_Angeles"
NY = "America/New_York"
CHI = "America/Chicago"
FLORIDA = "+13055550142"  # Miami
CONNECTICUT = "+12035550142"
NEW_JERSEY = "+12015550142"
OKLAHOMA = "+14055550142"
MARYLAND = "+14105550142"
MISSISSIPPI = "+16015550142"
NEW_YORK = "+12125550142"
TOLL_FREE = "+18005550142"


def quiet(phone: str, zone: str, *when: int, practice_number: str | None = None) -> bool:
    return quiet_hours.is_quiet(phone, LA, at_local(zone, *when), practice_number=practice_number)


def test_florida_8pm() -> None:
    assert quiet(FLORIDA, NY, 2026, 11, 24, 20, 30)  # issue 11: dialed at 20:30
    assert quiet(FLORIDA, NY, 2026, 11, 24, 20, 0)
    assert not quiet(FLORIDA, NY, 2026, 11, 24, 19, 59)
    assert not quiet(FLORIDA, NY, 2026, 11, 24, 8, 0)
    assert quiet(FLORIDA, NY, 2026, 11, 24, 7, 59)
    assert quiet_hours.next_allowed(FLORIDA, LA, at_local(NY, 2026, 11, 24, 20, 30)) == (
        at_local(NY, 2026, 11, 25, 8, 0)
    )


def test_connecticut_9am_to_8pm() -> None:
    assert quiet(CONNECTICUT, NY, 2026, 11, 24, 8, 0)  # issue 11: dialed at 08:00
    assert quiet(CONNECTICUT, NY, 2026, 11, 24, 8, 59)
    assert not quiet(CONNECTICUT, NY, 2026, 11, 24, 9, 0)
    assert quiet(CONNECTICUT, NY, 2026, 11, 24, 20, 18)  # and at 20:18
    assert quiet_hours.next_allowed(CONNECTICUT, LA, at_local(NY, 2026, 11, 24, 8, 0)) == (
        at_local(NY, 2026, 11, 24, 9, 0)
    )


def test_new_jersey_oklahoma_maryland_8pm() -> None:
    assert quiet(NEW_JERSEY, NY, 2026, 11, 24, 20, 31)  # issue 11: dialed at 20:31
    assert not quiet(NEW_JERSEY, NY, 2026, 11, 24, 19, 59)
    assert quiet(MARYLAND, NY, 2026, 11, 24, 20, 0)
    assert not quiet(MARYLAND, NY, 2026, 11, 24, 12, 0)
    assert quiet(OKLAHOMA, CHI, 2026, 11, 24, 20, 0)
    assert not quiet(OKLAHOMA, CHI, 2026, 11, 24, 19, 30)


def test_mississippi_8pm_and_never_on_sunday() -> None:
    assert quiet(MISSISSIPPI, CHI, 2026, 11, 24, 20, 0)  # a Tuesday
    assert not quiet(MISSISSIPPI, CHI, 2026, 11, 24, 12, 0)
    assert quiet(MISSISSIPPI, CHI, 2026, 11, 29, 12, 0)  # a Sunday
    saturday_night = at_local(CHI, 2026, 11, 28, 20, 30)
    assert quiet_hours.next_allowed(MISSISSIPPI, LA, saturday_night) == (
        at_local(CHI, 2026, 11, 30, 8, 0)
    )


def test_other_states_keep_the_federal_window() -> None:
    assert not quiet(NEW_YORK, NY, 2026, 11, 24, 20, 30)
    assert quiet(NEW_YORK, NY, 2026, 11, 24, 21, 0)
    assert calling_hours.window_for(NEW_YORK) == calling_hours.FEDERAL


def test_a_number_without_a_state_takes_the_practices_state() -> None:
    ct_practice = "+18605550100"
    assert calling_hours.state_of(TOLL_FREE) is None
    # A toll-free or foreign caller of a Connecticut practice: Connecticut's hours.
    for phone in (TOLL_FREE, "+442079460142"):
        window = calling_hours.window_for(phone, ct_practice)
        assert (window.allowed_from, window.allowed_until) == (time(9, 0), time(20, 0))
    # A New York number of the same practice is judged by New York's (federal) hours.
    assert calling_hours.window_for(NEW_YORK, ct_practice) == calling_hours.FEDERAL
    assert not quiet_hours.is_quiet(
        NEW_YORK, NY, at_local(NY, 2026, 11, 24, 8, 30), practice_number=ct_practice
    )


def test_the_table_cites_its_sources() -> None:
    window = calling_hours.window_for(CONNECTICUT)
    assert window.sources == ("47 CFR 64.1200(c)(1)", "Conn. Gen. Stat. 42-288a")
    assert {r.state for r in calling_hours.STATE_RULES.values()} == {
        "FL",
        "OK",
        "MD",
        "MS",
        "NJ",
        "CT",
    }
    for rule in calling_hours.STATE_RULES.values():
        assert rule.source and rule.allowed_until <= calling_hours.FEDERAL_UNTIL


def test_area_codes_agree_with_the_phonenumbers_geocoder() -> None:
    names = {
        "Florida": "FL",
        "Oklahoma": "OK",
        "Maryland": "MD",
        "Mississippi": "MS",
        "New Jersey": "NJ",
        "Connecticut": "CT",
    }
    seen: dict[str, set[str]] = {state: set() for state in names.values()}
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}2345678", None)
        description = geocoder.description_for_number(number, "en")
        place = description.rsplit(", ", 1)[-1]
        state = names.get(place) or (place if place in seen else None)
        if state is not None:
            seen[state].add(str(npa))
    for state, found in seen.items():
        assert found <= calling_hours.AREA_CODES[state], (state, found)
    for state, listed in calling_hours.AREA_CODES.items():
        for code in listed:
            assert calling_hours.state_of(f"+1{code}5550142") == state


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def test_the_send_function_holds_an_unsolicited_text_to_florida_after_8pm(
    session: Session, practice: Practice
) -> None:
    now = at_local(NY, 2026, 11, 24, 20, 30)
    reminder = services.send_sms(
        session, practice, FLORIDA, "A reminder from Glow Aesthetics.", MessageKind.REMINDER, now
    )
    assert reminder.send_after == at_local(NY, 2026, 11, 25, 8, 0)
    with pytest.raises(services.SmsRefused) as refused:
        services.send_sms(
            session,
            practice,
            CONNECTICUT,
            "Hello from Glow Aesthetics.",
            MessageKind.COORDINATOR,
            at_local(NY, 2026, 11, 24, 8, 30),
            on_quiet=services.OnQuiet.REFUSE,
        )
    assert refused.value.reason == "quiet_hours"
    reply = services.send_sms(
        session, practice, FLORIDA, "Thanks!", MessageKind.COORDINATOR, now, direct_reply=True
    )
    assert reply.send_after is None  # a direct reply is not held


@pytest.mark.parametrize(
    ("phone", "zone", "blocked", "opens"),
    [
        (FLORIDA, NY, (20, 30), (8, 0)),
        (CONNECTICUT, NY, (20, 18), (9, 0)),
        (NEW_JERSEY, NY, (20, 31), (8, 0)),
    ],
)
def test_the_dialer_waits_for_the_states_hours(
    session: Session,
    client: FlaskClient,
    practice: Practice,
    redis: Redis,
    phone: str,
    zone: str,
    blocked: tuple[int, int],
    opens: tuple[int, int],
) -> None:
    make_coordinator(session, practice, "ava")
    clock.pin(at_local(zone, 2026, 11, 24, *blocked))  # the practice (Pacific) is open
    task_id = post_lead(client, session, practice, phone=phone)["callback_task_id"]
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []
    assert attempts(session, task_id)[0].due_at == at_local(zone, 2026, 11, 25, *opens)
