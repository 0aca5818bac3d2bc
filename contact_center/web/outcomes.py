"""Call outcomes at wrap-up, recorded through the QA feature's ``set_outcome``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from appointments.catalog import appointment_for_call
from appointments.services import BookingRequest
from contact_center import parsing
from contact_center.errors import InvalidInput
from contact_center.web import queries
from contact_center.web.booking_form import parse_booking
from qa.models import Disposition
from qa.outcomes import set_outcome

_LABELS = {
    Disposition.BOOKED_CONSULTATION: "Booked consultation",
    Disposition.BOOKED_TREATMENT: "Booked treatment",
    Disposition.FOLLOW_UP: "Follow-up needed",
    Disposition.NOT_INTERESTED: "Not interested",
    Disposition.WRONG_NUMBER: "Wrong number",
    Disposition.VOICEMAIL_LEFT: "Left voicemail",
    Disposition.OTHER: "Other",
}
OUTCOMES = tuple(
    (d.value, _LABELS.get(d, d.value.replace("_", " ").capitalize())) for d in Disposition
)


def label(value: str | None) -> str | None:
    return dict(OUTCOMES).get(value or "", value)


def record_outcome(
    session: Session,
    practice_id: int,
    call_id: int,
    user_id: int,
    outcome: str,
    note: str,
    booked_for: str,
    now: datetime,
    booking: dict[str, str] | None = None,
) -> dict[str, object]:
    """The coordinator's outcome of a call in this practice; ``booked_for`` is the practice's
    local time from a datetime-local field; ``booking`` the booking form's fields (service_id,
    provider_id, start), which book the caller in the same transaction. Raises InvalidInput,
    NotFound, Forbidden, SlotTaken."""
    call = queries.call_in_practice(session, practice_id, call_id)
    request: BookingRequest | None = parse_booking(booking) if booking else None
    when = None
    if booked_for.strip():
        local = parsing.moment(booked_for)
        if local is None:
            raise InvalidInput("the booking time is not a date and time", "booked_for")
        zone = ZoneInfo(queries.practice(session, practice_id).timezone)
        when = local if local.tzinfo else local.replace(tzinfo=zone)
    result = set_outcome(
        session,
        call.id,
        user_id,
        outcome,
        now,
        booked_for=when,
        note=" ".join(note.split())[:1000] or None,
        booking=request,
    )
    disposition = result.disposition.value if result.disposition else None
    appointment = appointment_for_call(session, call.id) if request is not None else None
    return {
        "outcome": disposition,
        "label": label(disposition),
        "mismatch": result.mismatch,
        "appointment_id": appointment.id if appointment is not None else None,
        "booked_for": result.booked_for.isoformat() if result.booked_for else None,
    }
