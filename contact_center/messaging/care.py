"""The texting rules for automated healthcare messages (``MessageClass.CARE``).

Reminders and check-ins go out under the TCPA healthcare exemption (47 CFR 64.1200(a)(9)(iv)),
which holds only while each message is at most 160 characters, names the practice, tells the
patient how to opt out, and the practice sends at most one such message a day and three a week
to the patient, across every sequence (reminders for two appointments, check-ins, ...).

The send function calls these checks; callers never count for themselves. The counts come from
the messages table (what was accepted and not refused), so a lost Redis or a second worker
cannot reset them, and the patient's conversation row is locked while counting so two workers
cannot both take the last place of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.messaging import quiet_hours
from contact_center.messaging.models import (
    Conversation,
    Message,
    MessageClass,
    MessageDirection,
    MessageStatus,
)

MAX_CHARS = 160
OPT_OUT_LINE = "Reply STOP to opt out."
PER_DAY = 1
PER_WEEK = 3
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Breach:
    """Why a care text may not go out: a stable ``reason`` code and a sentence for people."""

    reason: str
    detail: str


def content_breach(practice_name: str, body: str) -> Breach | None:
    """The rules on the text itself: length, the practice named, the opt-out line."""
    if len(body) > MAX_CHARS:
        return Breach(
            "care_too_long",
            f"a care text may be at most {MAX_CHARS} characters; this one has {len(body)}",
        )
    if practice_name.casefold() not in body.casefold():
        return Breach("care_practice_not_named", f"a care text must name {practice_name}")
    if OPT_OUT_LINE.casefold() not in body.casefold():
        return Breach("care_no_opt_out", f'a care text must carry "{OPT_OUT_LINE}"')
    return None


def lock_conversation(session: Session, conversation_id: int) -> None:
    """Serialize care sends to one patient (PostgreSQL row lock until the transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Conversation.id).where(Conversation.id == conversation_id).with_for_update()
        )


def _day_bounds(phone: str, practice_zone: str, at: datetime) -> tuple[datetime, datetime]:
    """The patient's local calendar day around ``at``, in UTC (the first of its zones)."""
    zone = quiet_hours.patient_zones(phone, practice_zone)[0]
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(at.tzinfo), end.astimezone(at.tzinfo)


def care_times(
    session: Session,
    conversation_id: int,
    since: datetime,
    until: datetime,
    exclude_id: int | None = None,
) -> list[datetime]:
    """When the patient's other care texts went (or will go) out, within (since, until).

    A text counts from the moment it is accepted (pending) unless it was refused; its time is
    when it was sent, else when it is due, else when it was accepted.
    """
    effective = func.coalesce(Message.sent_at, Message.send_after, Message.created_at)
    query = select(effective).where(
        Message.conversation_id == conversation_id,
        Message.direction == MessageDirection.OUTBOUND,
        Message.message_class == MessageClass.CARE,
        Message.status != MessageStatus.REFUSED,
        effective > since,
        effective < until,
    )
    if exclude_id is not None:
        query = query.where(Message.id != exclude_id)
    return list(session.scalars(query))


def cap_breach(
    session: Session,
    conversation_id: int,
    phone: str,
    practice_zone: str,
    at: datetime,
    exclude_id: int | None = None,
) -> Breach | None:
    """At most ``PER_DAY`` care texts on the patient's local day of ``at`` and ``PER_WEEK`` in
    any seven days that include ``at``. The caller holds ``lock_conversation``."""
    times = care_times(session, conversation_id, at - WEEK, at + WEEK, exclude_id)
    start, end = _day_bounds(phone, practice_zone, at)
    today = [t for t in times if start <= t < end]
    if len(today) >= PER_DAY:
        return Breach(
            "care_daily_cap",
            f"this patient already has {len(today)} care text(s) on {start:%Y-%m-%d} "
            f"(their day); at most {PER_DAY} a day",
        )
    everything = sorted([*times, at])
    for first in everything:
        if first > at or first <= at - WEEK:
            continue
        in_window = [t for t in everything if first <= t < first + WEEK]
        if len(in_window) > PER_WEEK:
            return Breach(
                "care_weekly_cap",
                f"this patient would get {len(in_window)} care texts within seven days from "
                f"{first:%Y-%m-%d %H:%M} UTC; at most {PER_WEEK} a week",
            )
    return None
