"""Calendar jobs: push one appointment to the practice's CalDAV calendar, read busy times, and
the reconciler that retries every appointment not yet in the calendar.

Jobs take ids; the network call happens between two short transactions, never inside one.
"""

from __future__ import annotations

import logging
import secrets as token
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from appointments import caldav_sync
from appointments.caldav_sync import CalendarAccess, CalendarUnavailable
from appointments.ical import EventFacts, event_facts
from appointments.models import Appointment, AppointmentStatus, CalendarConnection
from appointments.secrets import SecretError
from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import DEFAULT, after_commit
from contact_center.models import Patient, Practice
from contact_center.runtime import current_settings

logger = logging.getLogger(__name__)

REMOVED = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.ENTERED_IN_ERROR})
RECONCILE_BATCH = 200
RECONCILE_HISTORY = timedelta(days=30)


def push_after_commit(session: Session, appointment_id: int) -> None:
    """The calendar push for a change, once ``session`` commits (appointments.services'
    ``appointment_changed`` already does this for every change it records)."""
    after_commit(
        session,
        push_to_calendar,
        appointment_id,
        queue=DEFAULT,
        job_id=f"calendar-push-{appointment_id}",
        retries=0,  # the reconciler retries, at its own pace, until the calendar is back
    )


def _plan(
    session: Session, appointment_id: int, key: str
) -> tuple[CalendarAccess, EventFacts | None, str, datetime] | None:
    """What to send for one appointment: (access, event or None to delete, uid, version)."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.in_calendar:
        return None
    access = caldav_sync.access_for(session, appointment.practice_id, key)
    if access is None:
        return None
    if appointment.calendar_uid is None:
        if appointment.status in REMOVED:  # never written, nothing to remove
            appointment.calendar_synced_at = appointment.updated_at
            return None
        # Chosen and stored before the PUT, so a retried push replaces the same event.
        appointment.calendar_uid = f"appointment-{appointment.id}-{token.token_hex(6)}@cc"
    practice = session.get(Practice, appointment.practice_id)
    assert practice is not None
    if appointment.status in REMOVED:
        facts = None
    else:
        patient = session.get(Patient, appointment.patient_id)
        facts = event_facts(appointment, appointment.calendar_uid, practice.name, patient)
    return access, facts, appointment.calendar_uid, appointment.updated_at


def push_to_calendar(appointment_id: int) -> bool:
    """Copy one appointment to its practice's calendar (write, move or delete). Safe to run
    twice; a calendar that is down leaves ``calendar_error`` set for the reconciler and
    returns False."""
    key = current_settings().recordings_key
    try:
        with session_scope() as session:
            plan = _plan(session, appointment_id, key)
    except SecretError:
        logger.exception("calendar password unreadable appointment_id=%s", appointment_id)
        return False
    if plan is None:
        return True
    access, facts, uid, version = plan
    try:
        if facts is None:
            caldav_sync.delete_event(access, uid)
        else:
            caldav_sync.write_event(access, facts, clock.now())
    except CalendarUnavailable as error:
        with session_scope() as session:
            appointment = session.get(Appointment, appointment_id)
            if appointment is not None:
                appointment.calendar_error = str(error)
        return False
    with session_scope() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is not None:
            # The version pushed: a change made meanwhile is newer and gets its own push.
            appointment.calendar_synced_at = version
            appointment.calendar_error = None
    logger.info("calendar updated appointment_id=%s deleted=%s", appointment_id, facts is None)
    return True


def reconcile_calendars() -> int:
    """Push every appointment whose calendar copy is missing or out of date (practices with a
    calendar). Periodic; returns how many were tried. After one failure the rest of that
    practice's wait for the next round (its server is down: no need to time out on each)."""
    with session_scope() as session:
        rows = list(
            session.execute(
                select(Appointment.id, Appointment.practice_id)
                .join(
                    CalendarConnection,
                    CalendarConnection.practice_id == Appointment.practice_id,
                )
                .where(
                    or_(
                        Appointment.calendar_synced_at.is_(None),
                        Appointment.calendar_synced_at < Appointment.updated_at,
                    ),
                    # A calendar connected today gets the recent past and the future, not
                    # years of history.
                    Appointment.end_at > clock.now() - RECONCILE_HISTORY,
                )
                .order_by(Appointment.updated_at)
                .limit(RECONCILE_BATCH)
            )
        )
    down: set[int] = set()
    tried = 0
    for appointment_id, practice_id in rows:
        if practice_id in down:
            continue
        tried += 1
        if not push_to_calendar(appointment_id):
            down.add(practice_id)
    return tried


def sync_busy(practice_id: int) -> int:
    """Read the practice's busy times for the coming weeks into ``calendar_busy``. Returns
    how many were stored; a calendar that is down keeps the last busy times read."""
    key = current_settings().recordings_key
    now = clock.now()
    with session_scope() as session:
        practice = session.get(Practice, practice_id)
        access = caldav_sync.access_for(session, practice_id, key) if practice else None
        if practice is None or access is None:
            return 0
        zone = ZoneInfo(practice.timezone)
    start = now - timedelta(days=1)
    try:
        busy = caldav_sync.read_busy(
            access, start, now + timedelta(days=caldav_sync.BUSY_DAYS_AHEAD), zone
        )
    except CalendarUnavailable as error:
        with session_scope() as session:
            connection = caldav_sync.connection_of(session, practice_id)
            if connection is not None:
                connection.last_error = str(error)
        return 0
    with session_scope() as session:
        return caldav_sync.store_busy(session, practice_id, busy, start, now)


def sync_all_busy() -> int:
    """Periodic: refresh the busy times of every practice with a calendar."""
    with session_scope() as session:
        practices = list(session.scalars(select(CalendarConnection.practice_id)))
    return sum(sync_busy(practice_id) for practice_id in practices)
