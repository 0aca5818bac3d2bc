"""Phone numbers: E.164 normalization and the time zones a number may be in."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers import timezone as pn_timezone

from contact_center.errors import InvalidInput


def to_e164(raw: str, default_region: str = "US") -> str:
    """Normalize a dialable number to E.164; raise ``InvalidInput`` if it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("phone number is empty", "phone")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(f"cannot read phone number {text!r}", "phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{text!r} is not a valid phone number", "phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number_zones(e164: str) -> list[ZoneInfo]:
    """The IANA zones a number may be in (several when a region spans zones; empty if unknown)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return []
    names = pn_timezone.time_zones_for_number(parsed)
    return [ZoneInfo(n) for n in names if n in _known_zones()]


def check_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name; raise ``InvalidInput`` for an unknown zone."""
    if name not in _known_zones():
        raise InvalidInput(f"unknown time zone {name!r}; use an IANA name like America/New_York")
    return ZoneInfo(name)


_ZONES: set[str] = set()


def _known_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES
