"""Opening hours and phone numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from contact_center.errors import InvalidInput
from contact_center.hours import OpeningHours
from contact_center.phones import check_zone, number_zones, to_e164

LA = ZoneInfo("America/Los_Angeles")


def test_hours_parse_describe_and_round_trip() -> None:
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00, sat 10:00-14:00")
    assert hours.spec() == "mon-fri 09:00-18:00, sat 10:00-14:00"
    assert OpeningHours.parse(hours.spec()) == hours
    assert hours.describe() == "Monday to Friday, 9 AM to 6 PM; Saturday, 10 AM to 2 PM"
    split = OpeningHours.parse("mon 09:00-12:00, mon 13:30-17:00")
    assert split.describe() == "Monday, 9 AM to 12 PM and 1:30 PM to 5 PM"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "mon-fri 9-5",
        "fri-mon 09:00-17:00",
        "mon 18:00-09:00",
        "xyz 09:00-10:00",
        "mon 25:00-26:00",
    ],
)
def test_malformed_hours_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInput):
        OpeningHours.parse(spec)


def test_open_and_next_opening_follow_the_practice_zone_across_dst() -> None:
    hours = OpeningHours.parse("mon-fri 09:00-18:00")
    friday_evening = datetime(2026, 10, 30, 18, 0, tzinfo=LA)
    assert not hours.is_open(friday_evening, LA)
    assert hours.is_open(datetime(2026, 10, 30, 17, 59, tzinfo=LA), LA)
    # DST ends on Sunday 1 November 2026: Monday 9 AM PST is 17:00 UTC.
    assert hours.next_opening(friday_evening, LA) == datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    assert OpeningHours.parse("sun 10:00-11:00").next_opening(
        datetime(2026, 11, 22, 10, 30, tzinfo=LA), LA
    ) == datetime(2026, 11, 29, 18, 0, tzinfo=UTC)


def test_phone_numbers_normalize_to_e164_and_know_their_zones() -> None:
    assert to_e164("(415) 555-0100") == "+14155550100"
    assert to_e164("+44 20 7946 0958") == "+442079460958"
    for bad in ("", "12", "Anonymous", "+266696687"):
        with pytest.raises(InvalidInput):
            to_e164(bad)
    assert [z.key for z in number_zones("+12125550123")] == ["America/New_York"]
    assert len(number_zones("+18005550199")) > 1  # toll-free: many zones, the stricter applies
    assert check_zone("Europe/Paris").key == "Europe/Paris"
    with pytest.raises(InvalidInput):
        check_zone("Mars/Olympus_Mons")
