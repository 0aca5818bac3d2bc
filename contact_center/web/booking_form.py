"""Parsing the booking form's fields (wrap-up, patient page, callbacks, reschedule) at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from appointments.services import BookingRequest
from contact_center.errors import InvalidInput

_MAX_ID = 2**31 - 1


def parse_id(raw: object, field: str, *, optional: bool = False) -> int | None:
    text = str(raw if raw is not None else "").strip()
    if not text and optional:
        return None
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= _MAX_ID:
        raise InvalidInput(f"{field} must be a positive whole number", field)
    return int(text)


def parse_instant(raw: object, field: str) -> datetime:
    """An ISO 8601 instant with its offset (what the slot list hands out)."""
    text = str(raw if raw is not None else "").strip()
    try:
        value = datetime.fromisoformat(text) if text.isascii() and len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidInput("pick a time from the list of free slots", field)
    return value


def parse_day(raw: object, field: str = "day") -> date:
    text = str(raw if raw is not None else "").strip()
    try:
        day = date.fromisoformat(text) if text.isascii() and len(text) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2200:  # and no overflow at the calendar's ends
        raise InvalidInput("the day must look like 2026-05-03", field)
    return day


def parse_booking(fields: Mapping[str, object]) -> BookingRequest | None:
    """A BookingRequest, or None when the form's booking part was left empty."""
    if not any(str(fields.get(k) or "").strip() for k in ("service_id", "start")):
        return None
    service_id = parse_id(fields.get("service_id"), "service_id")
    assert service_id is not None
    location = str(fields.get("location") or "").replace("\x00", "").strip()[:200]
    return BookingRequest(
        service_id=service_id,
        start=parse_instant(fields.get("start"), "start"),
        provider_id=parse_id(fields.get("provider_id"), "provider_id", optional=True),
        location=location or None,
    )
