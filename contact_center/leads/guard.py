"""Fraud and abuse rules of the public lead form: where a lead may be texted and dialed, how
fast, and the record of what was refused.

A web form's API key sits in the page, so anyone can post leads with it. Each accepted lead
costs a text and a call, which makes the form a tool for SMS pumping and toll fraud unless the
destination is a personal number in a country the practice serves and leads arrive at a human
pace. The rules here are plain functions; the leads API applies the rate limits (Redis) and
raises ``LeadRefused`` through them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from limits import parse_many
from phonenumbers import PhoneNumberType
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import DomainError, InvalidInput
from contact_center.leads.models import LeadGuardSettings, LeadSurge, RefusedLead

logger = logging.getLogger(__name__)

DEFAULT_COUNTRIES = "US,CA"
# A practice's web form: a busy day is dozens of leads, a campaign maybe a few hundred.
DEFAULT_PER_KEY = "30/minute;300/hour;1000/day"
# One visitor (or one office behind one address) fills the form a few times at most.
DEFAULT_PER_ADDRESS = "5/minute;20/hour;50/day"
# The same number asking again is normal once or twice; more is someone else's phone ringing.
DEFAULT_PER_DESTINATION = "2/hour;4/day"
DEFAULT_SURGE_MIN_LEADS = 20
DEFAULT_SURGE_FACTOR = 5

# Numbers a patient can be texted and called at: the phone they filled in.
PERSONAL_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
    }
)
_TYPE_NAMES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.UAN: "a universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.UNKNOWN: "a number of unknown type",
}
NON_GEOGRAPHIC = "001"  # satellite and other international networks (+881, +882, +883, ...)

# Why a lead was refused (RefusedLead.reason, and "reason" in the API's error body).
COUNTRY = "country_not_allowed"
NUMBER_TYPE = "number_type_not_allowed"
INTERNATIONAL_NETWORK = "international_network"
RATE_KEY = "rate_limited_key"
RATE_ADDRESS = "rate_limited_address"
RATE_DESTINATION = "rate_limited_destination"


class LeadRefused(DomainError):
    """The lead breaks a fraud rule: 422 (destination) or 429 (rate), with the reason."""

    def __init__(
        self,
        reason: str,
        message: str,
        status_code: int,
        *,
        phone: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code
        self.phone = phone
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class GuardSettings:
    allowed_countries: frozenset[str]
    per_key_limit: str
    per_address_limit: str
    per_destination_limit: str
    surge_min_leads: int
    surge_factor: int


def parse_countries(spec: str) -> frozenset[str]:
    """ "US, ca" -> {"US", "CA"}; raises InvalidInput for anything but known region codes."""
    codes = frozenset(c.strip().upper() for c in spec.split(",") if c.strip())
    known = phonenumbers.SUPPORTED_REGIONS
    unknown = sorted(c for c in codes if c not in known)
    if unknown or not codes:
        raise InvalidInput(
            f"allowed countries must be ISO codes like US,CA (not {', '.join(unknown) or spec!r})",
            "allowed_countries",
        )
    return codes


def guard_settings(session: Session, practice_id: int) -> GuardSettings:
    """The practice's rules, the defaults where it set none."""
    row = session.get(LeadGuardSettings, practice_id)
    if row is None:
        return GuardSettings(
            parse_countries(DEFAULT_COUNTRIES),
            DEFAULT_PER_KEY,
            DEFAULT_PER_ADDRESS,
            DEFAULT_PER_DESTINATION,
            DEFAULT_SURGE_MIN_LEADS,
            DEFAULT_SURGE_FACTOR,
        )
    return GuardSettings(
        parse_countries(row.allowed_countries),
        row.per_key_limit,
        row.per_address_limit,
        row.per_destination_limit,
        row.surge_min_leads,
        row.surge_factor,
    )


def set_guard_settings(
    session: Session,
    practice_id: int,
    *,
    allowed_countries: str | None = None,
    per_key_limit: str | None = None,
    per_address_limit: str | None = None,
    per_destination_limit: str | None = None,
    surge_min_leads: int | None = None,
    surge_factor: int | None = None,
) -> GuardSettings:
    """Change some of the practice's rules (None keeps the current value). Raises InvalidInput."""
    current = guard_settings(session, practice_id)
    row = session.get(LeadGuardSettings, practice_id) or LeadGuardSettings(
        practice_id=practice_id,
        allowed_countries=",".join(sorted(current.allowed_countries)),
        per_key_limit=current.per_key_limit,
        per_address_limit=current.per_address_limit,
        per_destination_limit=current.per_destination_limit,
        surge_min_leads=current.surge_min_leads,
        surge_factor=current.surge_factor,
    )
    if allowed_countries is not None:
        row.allowed_countries = ",".join(sorted(parse_countries(allowed_countries)))
    for field, value in (
        ("per_key_limit", per_key_limit),
        ("per_address_limit", per_address_limit),
        ("per_destination_limit", per_destination_limit),
    ):
        if value is None:
            continue
        setattr(row, field, check_limits(value, field))
    for field, number in (("surge_min_leads", surge_min_leads), ("surge_factor", surge_factor)):
        if number is None:
            continue
        if not 1 <= number <= 100_000:
            raise InvalidInput(f"{field} must be between 1 and 100000", field)
        setattr(row, field, number)
    session.add(row)
    session.flush()
    return guard_settings(session, practice_id)


def check_limits(value: str, field: str) -> str:
    """A limit in the limits library's notation ("20/minute;200/day"); raises InvalidInput."""
    value = value.strip()
    try:
        ok = bool(value) and len(value) <= 100 and bool(parse_many(value))
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInput(f"{value!r} is not a limit like 20/minute;200/day", field)
    return value


def check_destination(rules: GuardSettings, e164: str) -> None:
    """Refuse (422) a number the practice must not text or dial: another country, a
    non-geographic network (satellite), premium-rate, shared-cost, and other non-personal types."""
    parsed = phonenumbers.parse(e164, None)
    region = phonenumbers.region_code_for_number(parsed) or ""
    if region == NON_GEOGRAPHIC:
        raise LeadRefused(
            INTERNATIONAL_NETWORK,
            "leads cannot be texted or called on satellite or international network numbers",
            422,
            phone=e164,
        )
    kind = phonenumbers.number_type(parsed)
    if kind not in PERSONAL_TYPES:
        raise LeadRefused(
            NUMBER_TYPE,
            f"{e164} is {_TYPE_NAMES.get(kind, 'not a personal phone number')}; "
            "leads need a mobile or landline number",
            422,
            phone=e164,
        )
    if region not in rules.allowed_countries:
        allowed = ", ".join(sorted(rules.allowed_countries))
        raise LeadRefused(
            COUNTRY,
            f"this practice takes leads with numbers in {allowed} only "
            f"({e164} is in {region or 'an unknown country'})",
            422,
            phone=e164,
        )


def record_refusal(
    session: Session,
    practice_id: int,
    refused: LeadRefused,
    client_address: str | None,
    now: datetime,
) -> RefusedLead:
    """Keep a refused lead for the practice to see."""
    row = RefusedLead(
        practice_id=practice_id,
        at=now,
        reason=refused.reason,
        status_code=refused.status_code,
        phone=(refused.phone or None) and (refused.phone or "")[:40],
        client_address=(client_address or None) and (client_address or "")[:45],
        detail=str(refused)[:255],
    )
    session.add(row)
    session.flush()
    return row


def refused_leads(session: Session, practice_id: int, limit: int = 200) -> list[RefusedLead]:
    """The practice's refused leads, newest first."""
    return list(
        session.scalars(
            select(RefusedLead)
            .where(RefusedLead.practice_id == practice_id)
            .order_by(RefusedLead.at.desc(), RefusedLead.id.desc())
            .limit(limit)
        )
    )


def open_surges(session: Session, practice_id: int) -> list[LeadSurge]:
    """Lead-rate surges not acknowledged yet, newest first."""
    return list(
        session.scalars(
            select(LeadSurge)
            .where(LeadSurge.practice_id == practice_id, LeadSurge.acknowledged_at.is_(None))
            .order_by(LeadSurge.detected_at.desc())
        )
    )


def acknowledge_surges(session: Session, practice_id: int, now: datetime) -> int:
    """Mark the practice's open surge alerts as seen; returns how many."""
    surges = open_surges(session, practice_id)
    for surge in surges:
        surge.acknowledged_at = now
    session.flush()
    return len(surges)
