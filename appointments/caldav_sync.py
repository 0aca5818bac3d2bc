"""The practice's calendar of record over CalDAV (RFC 4791): write, move, delete, read busy times.

The product's own appointment rows are the truth. A push copies one appointment to the
calendar (PUT of its event, or DELETE when cancelled) outside any database transaction; the
appointment is "in the calendar" once ``calendar_synced_at`` reaches its ``updated_at``. A
calendar that is down leaves ``calendar_error`` set and the reconciler
(``appointments.jobs.reconcile_calendars``) pushes again until it lands. Busy times are read
into ``calendar_busy`` rows, which free slots subtract; our own events are not busy times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from appointments import secrets
from appointments.ical import EventFacts, calendar_text
from appointments.models import Appointment, CalendarBusy, CalendarConnection, Provider
from contact_center.errors import DomainError, InvalidInput

logger = logging.getLogger(__name__)

TIMEOUT_S = 10
BUSY_DAYS_AHEAD = 60


class CalendarUnavailable(DomainError):
    """The CalDAV server could not be reached or refused the request."""


@dataclass(frozen=True)
class CalendarAccess:
    """Where and how to reach one practice's calendar (password decrypted, for one use)."""

    practice_id: int
    url: str
    username: str
    password: str
    calendar_path: str


def connect_calendar(
    session: Session,
    practice_id: int,
    url: str,
    username: str,
    password: str | None,
    calendar_path: str,
    key: str,
) -> CalendarConnection:
    """Set the practice's CalDAV calendar; ``password`` None keeps the stored one. The
    password is stored encrypted under ``key`` (RECORDINGS_KEY). Raises InvalidInput,
    SecretError."""
    url = url.strip()
    if not url.startswith(("https://", "http://")) or len(url) > 500 or "\x00" in url:
        raise InvalidInput("the calendar URL must start with https://", "url")
    connection = session.scalars(
        select(CalendarConnection).where(CalendarConnection.practice_id == practice_id)
    ).one_or_none()
    if connection is None:
        connection = CalendarConnection(practice_id=practice_id, password_encrypted="")
        session.add(connection)
    connection.url = url
    connection.username = username.strip()[:200]
    connection.calendar_path = calendar_path.strip()[:500]
    if password is not None:
        connection.password_encrypted = secrets.encrypt(key, practice_id, password)
    connection.last_error = None
    session.flush()
    return connection


def disconnect_calendar(session: Session, practice_id: int) -> None:
    session.execute(delete(CalendarConnection).where(CalendarConnection.practice_id == practice_id))
    session.execute(delete(CalendarBusy).where(CalendarBusy.practice_id == practice_id))


def connection_of(session: Session, practice_id: int) -> CalendarConnection | None:
    return session.scalars(
        select(CalendarConnection).where(CalendarConnection.practice_id == practice_id)
    ).one_or_none()


def access_for(session: Session, practice_id: int, key: str) -> CalendarAccess | None:
    connection = connection_of(session, practice_id)
    if connection is None:
        return None
    return CalendarAccess(
        practice_id=practice_id,
        url=connection.url,
        username=connection.username,
        password=secrets.decrypt(key, practice_id, connection.password_encrypted),
        calendar_path=connection.calendar_path,
    )


# --- the network (no database session held here) ------------------------------------------


def _calendar(access: CalendarAccess) -> Any:
    # Imported on use: the client and its HTTP stack cost ~0.4 s at every web process start.
    from caldav.davclient import DAVClient

    client = DAVClient(
        access.url,
        username=access.username or None,
        password=access.password or None,
        timeout=TIMEOUT_S,
    )
    if access.calendar_path:
        base = access.url.split("://", 1)
        root = f"{base[0]}://{base[1].split('/', 1)[0]}"
        path = access.calendar_path
        url = path if path.startswith(("http://", "https://")) else root + "/" + path.lstrip("/")
        return client.calendar(url=url)
    calendars = client.principal().calendars()
    if not calendars:
        raise CalendarUnavailable("the CalDAV account has no calendar")
    return calendars[0]


def _unavailable(access: CalendarAccess, error: Exception) -> CalendarUnavailable:
    logger.warning(
        "calendar unavailable practice_id=%s error=%s", access.practice_id, type(error).__name__
    )
    return CalendarUnavailable(f"calendar unavailable: {type(error).__name__}: {error}"[:500])


def write_event(access: CalendarAccess, facts: EventFacts, stamp: datetime) -> None:
    """Create or replace the event with ``facts.uid`` (a PUT: repeating it is harmless)."""
    try:
        _calendar(access).save_event(calendar_text([facts], stamp))
    except Exception as error:  # any failure of the server or the network: retried later
        raise _unavailable(access, error) from error


def delete_event(access: CalendarAccess, uid: str) -> None:
    """Remove the event with ``uid``; one already gone counts as removed."""
    from caldav.lib.error import NotFoundError

    try:
        calendar = _calendar(access)
        try:
            event = calendar.event_by_uid(uid)
        except NotFoundError:
            return
        event.delete()
    except NotFoundError:
        return
    except Exception as error:
        raise _unavailable(access, error) from error


@dataclass(frozen=True)
class BusyTime:
    uid: str
    start: datetime
    end: datetime
    summary: str


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):  # an all-day event: the whole local day
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    raise ValueError(f"not a date: {value!r}")


def read_busy(
    access: CalendarAccess, start: datetime, end: datetime, zone: ZoneInfo
) -> list[BusyTime]:
    """Events overlapping [start, end), recurring ones expanded; transparent ones skipped."""
    try:
        found = _calendar(access).search(start=start, end=end, event=True, expand=True)
    except Exception as error:
        raise _unavailable(access, error) from error
    busy = []
    for item in found:
        event = item.icalendar_component
        if str(event.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("status", "")).upper() == "CANCELLED":
            continue
        begin = _instant(event.get("dtstart").dt, zone)
        if event.get("dtend") is not None:
            finish = _instant(event.get("dtend").dt, zone)
        elif event.get("duration") is not None:
            finish = begin + event.get("duration").dt
        else:
            finish = begin + timedelta(days=1)
        busy.append(
            BusyTime(str(event.get("uid", "")), begin, finish, str(event.get("summary", "")))
        )
    return busy


# --- applying what was read ---------------------------------------------------------------


def store_busy(
    session: Session, practice_id: int, busy: list[BusyTime], start: datetime, now: datetime
) -> int:
    """Replace the practice's busy times from ``start`` on with ``busy`` (minus our own
    events). An event naming a provider blocks that provider only; any other blocks everyone.
    Returns how many were stored."""
    ours = set(
        session.scalars(
            select(Appointment.calendar_uid).where(
                Appointment.practice_id == practice_id, Appointment.calendar_uid.is_not(None)
            )
        )
    )
    providers = list(session.scalars(select(Provider).where(Provider.practice_id == practice_id)))
    session.execute(
        delete(CalendarBusy).where(
            CalendarBusy.practice_id == practice_id, CalendarBusy.end_at > start
        )
    )
    stored = 0
    for item in busy:
        if item.uid in ours or item.end <= item.start:
            continue
        summary = item.summary.lower()
        named: list[int | None] = [p.id for p in providers if p.name.lower() in summary]
        for provider_id in named or [None]:
            session.add(
                CalendarBusy(
                    practice_id=practice_id,
                    provider_id=provider_id,
                    start_at=item.start,
                    end_at=item.end,
                    event_uid=item.uid[:255],
                )
            )
            stored += 1
    connection = connection_of(session, practice_id)
    if connection is not None:
        connection.busy_synced_at = now
        connection.last_error = None
    session.flush()
    return stored
