"""The reminder sequence: which reminders an appointment gets, when, and sending one.

Defaults per practice (``ReminderSettings``): 48 hours before; 24 hours before, only while the
patient has not confirmed; the morning of the appointment at 8:00 (or later) in the patient's
time zone. A reminder whose moment falls in the patient's quiet hours is moved to the next
allowed minute (``due_at``); one whose moment had passed when the appointment was booked, or
that could only go out after the appointment, is ``skipped`` with its reason, never dropped
silently.

Durable like the dialer: rows say what is due; ``reminder_jobs.reconcile_reminders`` enqueues
due ones, ``prepare_reminder`` claims one under a row lock and, in the same transaction, hands
its text to the one send function (a ``pending`` message that messaging's delivery job and its
``sending`` recovery take from there). A flushed Redis or a killed worker therefore neither loses
a reminder (the row stays ``scheduled`` until the text exists) nor sends one twice (the row and
the message's ``dedupe_key`` say it was done).

Texts never name the service: "You have an appointment at Glow Aesthetics on Thu May 3 at
2:00 PM. Reply C to confirm or R to reschedule. Reply STOP to opt out."
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments.models import HELD, Appointment
from appointments.reminder_models import (
    Reminder,
    ReminderSettings,
    ReminderState,
    ReminderStep,
)
from contact_center.errors import DomainError, InvalidInput
from contact_center.messaging import quiet_hours
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageClass, MessageKind
from contact_center.models import Patient, Practice

logger = logging.getLogger(__name__)

# A reminder this late (the workers were down) is skipped: news of a 2 PM appointment at noon
# is no reminder, and the next step is close.
MAX_LATE = timedelta(hours=2)


def settings_for(session: Session, practice_id: int) -> ReminderSettings:
    row = session.get(ReminderSettings, practice_id)
    return row or ReminderSettings(
        practice_id=practice_id,
        enabled=True,
        first_hours_before=48,
        second_hours_before=24,
        second_only_unconfirmed=True,
        morning_of=True,
        morning_hour=8,
        link_hours=72,
    )


def update_settings(
    session: Session,
    practice_id: int,
    now: datetime,
    *,
    enabled: bool | None = None,
    first_hours_before: int | None = None,
    second_hours_before: int | None = None,
    second_only_unconfirmed: bool | None = None,
    morning_of: bool | None = None,
    morning_hour: int | None = None,
    link_hours: int | None = None,
) -> ReminderSettings:
    """Change the practice's sequence (0 hours turns a step off). Applies to appointments
    booked or moved from now on. Raises InvalidInput."""
    row = session.get(ReminderSettings, practice_id)
    if row is None:
        row = settings_for(session, practice_id)
        session.add(row)
    if enabled is not None:
        row.enabled = enabled
    for name, value in (
        ("first_hours_before", first_hours_before),
        ("second_hours_before", second_hours_before),
    ):
        if value is not None:
            if not 0 <= value <= 14 * 24:
                raise InvalidInput("hours before: 0 (off) to 336", name)
            setattr(row, name, value or None)
    if second_only_unconfirmed is not None:
        row.second_only_unconfirmed = second_only_unconfirmed
    if morning_of is not None:
        row.morning_of = morning_of
    if morning_hour is not None:
        if not 8 <= morning_hour <= 12:
            raise InvalidInput("the morning reminder goes between 8 and 12 o'clock", "morning_hour")
        row.morning_hour = morning_hour
    if link_hours is not None:
        if not 1 <= link_hours <= 14 * 24:
            raise InvalidInput("a reschedule link lives 1 to 336 hours", "link_hours")
        row.link_hours = link_hours
    row.updated_at = now
    session.flush()
    return row


def describe(settings: ReminderSettings) -> str:
    if not settings.enabled:
        return "reminders off"
    parts = []
    if settings.first_hours_before:
        parts.append(f"{settings.first_hours_before} h before")
    if settings.second_hours_before:
        only = " if unconfirmed" if settings.second_only_unconfirmed else ""
        parts.append(f"{settings.second_hours_before} h before{only}")
    if settings.morning_of:
        parts.append(f"the morning of at {settings.morning_hour}:00 (patient's zone)")
    return ", ".join(parts) + f"; reschedule links valid {settings.link_hours} h"


def when_text(start: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """("Thu May 3", "2:00 PM") in the practice's zone, where the appointment is."""
    local = start.astimezone(zone)
    hour = local.hour % 12 or 12
    return f"{local:%a %b} {local.day}", f"{hour}:{local:%M %p}"


def reminder_text(practice: Practice, start: datetime) -> str:
    """The reminder; a shorter form when a long practice name would pass 160 characters."""
    day, at = when_text(start, ZoneInfo(practice.timezone))
    text = (
        f"You have an appointment at {practice.name} on {day} at {at}. "
        "Reply C to confirm or R to reschedule. Reply STOP to opt out."
    )
    if len(text) > 160:
        text = (
            f"Appt at {practice.name} {day} {at}. Reply C to confirm, R to reschedule. "
            "Reply STOP to opt out."
        )
    return text


@dataclass(frozen=True)
class Planned:
    step: ReminderStep
    nominal_at: datetime


def plan(settings: ReminderSettings, start: datetime, zone: ZoneInfo) -> list[Planned]:
    """The sequence's moments for an appointment at ``start`` (before quiet hours)."""
    steps: list[Planned] = []
    if settings.first_hours_before:
        steps.append(
            Planned(ReminderStep.FIRST, start - timedelta(hours=settings.first_hours_before))
        )
    if settings.second_hours_before:
        steps.append(
            Planned(ReminderStep.SECOND, start - timedelta(hours=settings.second_hours_before))
        )
    if settings.morning_of:
        day = start.astimezone(zone).date()
        hour = max(settings.morning_hour, 8)
        morning = datetime.combine(day, time(hour), tzinfo=zone).astimezone(start.tzinfo)
        steps.append(Planned(ReminderStep.MORNING, morning))
    return steps


def patient_phone(session: Session, appointment: Appointment) -> str:
    return session.get_one(Patient, appointment.patient_id).phone


def schedule_reminders(session: Session, appointment: Appointment, now: datetime) -> list[Reminder]:
    """Bring the appointment's reminders in line with it (the ``appointment_changed`` hook).

    Waiting reminders for another start time, or for an appointment no longer held (cancelled,
    no-show, ...), become ``cancelled``; a held future appointment gets its sequence for its
    current start (rows already there are kept, so confirming or re-saving changes nothing).
    """
    waiting = session.scalars(
        select(Reminder).where(
            Reminder.appointment_id == appointment.id, Reminder.state == ReminderState.SCHEDULED
        )
    ).all()
    held = appointment.status in HELD and appointment.start_at > now
    for reminder in waiting:
        if not held or reminder.for_start != appointment.start_at:
            reminder.state = ReminderState.CANCELLED
            reminder.reason = (
                f"appointment {appointment.status.value}"
                if appointment.status not in HELD
                else "appointment moved"
            )
            reminder.state_at = now
    session.flush()
    settings = settings_for(session, appointment.practice_id)
    if not held or not settings.enabled:
        return []
    existing = set(
        session.scalars(
            select(Reminder.step).where(
                Reminder.appointment_id == appointment.id,
                Reminder.for_start == appointment.start_at,
            )
        )
    )
    practice = session.get_one(Practice, appointment.practice_id)
    phone = patient_phone(session, appointment)
    zones = quiet_hours.patient_zones(phone, practice.timezone)
    created = []
    for planned in plan(settings, appointment.start_at, zones[0]):
        if planned.step in existing:
            continue
        due = quiet_hours.next_allowed(phone, practice.timezone, planned.nominal_at)
        state, reason = ReminderState.SCHEDULED, None
        if planned.nominal_at < now - MAX_LATE or due <= now - MAX_LATE:
            state = ReminderState.SKIPPED
            reason = (
                f"booked after this reminder's moment ({planned.nominal_at:%Y-%m-%d %H:%M} UTC)"
            )
        elif due >= appointment.start_at:
            state = ReminderState.SKIPPED
            reason = "no allowed texting minute before the appointment (quiet hours)"
        elif due < now:
            due = now  # booked a little after the moment: send now
        reminder = Reminder(
            practice_id=appointment.practice_id,
            appointment_id=appointment.id,
            step=planned.step,
            for_start=appointment.start_at,
            nominal_at=planned.nominal_at,
            due_at=due,
            state=state,
            reason=reason,
            created_at=now,
            state_at=now,
        )
        session.add(reminder)
        created.append(reminder)
    session.flush()
    return created


def due_reminders(session: Session, now: datetime, limit: int = 1000) -> list[int]:
    """Scheduled reminders whose moment has come, oldest first (the reconciler's list)."""
    return list(
        session.scalars(
            select(Reminder.id)
            .where(Reminder.state == ReminderState.SCHEDULED, Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
    )


def _skip(reminder: Reminder, reason: str, now: datetime) -> None:
    reminder.state = ReminderState.SKIPPED
    reminder.reason = reason
    reminder.state_at = now
    logger.info("reminder skipped reminder_id=%s reason=%s", reminder.id, reason)


def prepare_reminder(session: Session, reminder_id: int, now: datetime) -> int | None:
    """Claim a due reminder and hand its text to the send function; the message id to
    deliver, or None (not due, already done, skipped with a reason)."""
    query = select(Reminder).where(Reminder.id == reminder_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    reminder = session.scalars(query).one_or_none()
    if reminder is None or reminder.state is not ReminderState.SCHEDULED:
        return None
    if reminder.due_at > now:
        return None
    appointment = session.get_one(Appointment, reminder.appointment_id)
    if appointment.status not in HELD or appointment.start_at != reminder.for_start:
        reminder.state = ReminderState.CANCELLED
        reminder.reason = "appointment changed"
        reminder.state_at = now
        return None
    settings = settings_for(session, appointment.practice_id)
    if (
        reminder.step is ReminderStep.SECOND
        and settings.second_only_unconfirmed
        and appointment.confirmed_at is not None
    ):
        _skip(reminder, "already confirmed", now)
        return None
    if now >= appointment.start_at:
        _skip(reminder, "moment passed: the appointment has begun", now)
        return None
    if now > reminder.due_at + MAX_LATE:
        _skip(
            reminder,
            f"moment passed: due {reminder.due_at:%Y-%m-%d %H:%M} UTC, "
            f"not sent by {now:%Y-%m-%d %H:%M} UTC",
            now,
        )
        return None
    practice = session.get_one(Practice, appointment.practice_id)
    phone = patient_phone(session, appointment)
    try:
        message = messaging.send_sms(
            session,
            practice,
            phone,
            reminder_text(practice, appointment.start_at),
            MessageKind.REMINDER,
            now,
            message_class=MessageClass.CARE,
            dedupe_key=f"reminder:{reminder.id}",
        )
    except messaging.SmsRefused as refused:
        _skip(reminder, f"refused: {refused.reason}: {refused}", now)
        return None
    except DomainError as refused:  # a PHI term in the practice's name, for one
        _skip(reminder, f"refused: {refused}", now)
        return None
    reminder.state = ReminderState.QUEUED
    reminder.message_id = message.id
    reminder.state_at = now
    return message.id


def reminded_appointment(session: Session, patient_id: int, now: datetime) -> Appointment | None:
    """The patient's next held appointment that a sent reminder asked about (what a C or R
    reply answers), or None."""
    return session.scalars(
        select(Appointment)
        .join(Reminder, Reminder.appointment_id == Appointment.id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(HELD),
            Appointment.start_at > now,
            Reminder.state == ReminderState.QUEUED,
        )
        .order_by(Appointment.start_at)
        .limit(1)
    ).first()


def reminders_of(session: Session, appointment_id: int) -> list[Reminder]:
    return list(
        session.scalars(
            select(Reminder)
            .where(Reminder.appointment_id == appointment_id)
            .order_by(Reminder.for_start, Reminder.nominal_at)
        )
    )
