"""Callback timing: SLA deadlines, the attempt cadence, and the SLA watch.

- Deadline: in hours, now + the practice's SLA (default 5 minutes); after hours, the next
  opening + 15 minutes (and the first attempt waits for the opening).
- Cadence: delays between attempts, e.g. "now, 5m, 1h, morning, 1d" (the last step repeats up to
  the attempt limit); every moment is pushed out of the patient's quiet hours.
- Watch: an open task with no coordinator leg placed by its deadline is a breach, once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from contact_center.errors import DomainError, InvalidInput
from contact_center.hours import OpeningHours
from contact_center.messaging import quiet_hours
from contact_center.messaging import services as messaging
from contact_center.messaging.models import MessageKind
from contact_center.models import Practice
from routing.dialer_models import (
    DEFAULT_CADENCE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_SLA_MINUTES,
    CallbackAttempt,
    DialerSettings,
    SlaBreach,
)
from routing.models import CallbackStatus, CallbackTask

logger = logging.getLogger(__name__)

AFTER_HOURS_GRACE = timedelta(minutes=15)
MORNING = time(9, 0)
_STEP = re.compile(r"^(?:(now|0)|(\d+)\s*([mhd])|(morning))$")


def dialer_settings(session: Session, practice_id: int) -> DialerSettings:
    return session.get(DialerSettings, practice_id) or DialerSettings(
        practice_id=practice_id,
        cadence=DEFAULT_CADENCE,
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        sla_minutes=DEFAULT_SLA_MINUTES,
    )


@dataclass(frozen=True)
class Step:
    delay: timedelta | None  # None: next morning


def parse_cadence(spec: str) -> list[Step]:
    """Parse "now, 5m, 1h, morning, 1d"; raise InvalidInput naming the bad step."""
    steps = []
    for raw in spec.split(","):
        part = raw.strip().lower()
        match = _STEP.match(part)
        if not match:
            raise InvalidInput(
                f"cannot read cadence step {part!r}; use now, 5m, 1h, 1d, morning", "cadence"
            )
        if match[1]:
            steps.append(Step(timedelta(0)))
        elif match[4]:
            steps.append(Step(None))
        else:
            unit = {"m": "minutes", "h": "hours", "d": "days"}[match[3]]
            steps.append(Step(timedelta(**{unit: int(match[2])})))
    if not steps:
        raise InvalidInput("cadence is empty", "cadence")
    return steps


def deadline_for(practice: Practice, sla_minutes: int, now: datetime) -> tuple[datetime, datetime]:
    """(when the callback may start, its SLA deadline)."""
    hours = OpeningHours.parse(practice.hours_spec)
    zone = ZoneInfo(practice.timezone)
    if hours.is_open(now, zone):
        return now, now + timedelta(minutes=sla_minutes)
    opening = hours.next_opening(now, zone) or now
    return opening, opening + AFTER_HOURS_GRACE


def next_morning(practice: Practice, after: datetime) -> datetime:
    """The practice's first opening on a later day (9:00 local the next day if it never opens)."""
    zone = ZoneInfo(practice.timezone)
    local = after.astimezone(zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    hours = OpeningHours.parse(practice.hours_spec)
    opening = hours.next_opening(tomorrow - timedelta(seconds=1), zone)
    if opening is None:
        opening = datetime.combine(tomorrow.date(), MORNING, tzinfo=zone)
    elif opening.astimezone(zone).time() == time(0):  # open around the clock: 9:00 it is
        opening = datetime.combine(opening.astimezone(zone).date(), MORNING, tzinfo=zone)
    return opening.astimezone(after.tzinfo)


def next_attempt_due(
    practice: Practice, settings: DialerSettings, attempt_no: int, phone: str, after: datetime
) -> datetime:
    """When attempt ``attempt_no`` (2, 3, ...) is due, the previous one having ended ``after``."""
    steps = parse_cadence(settings.cadence or "now")
    step = steps[min(attempt_no - 1, len(steps) - 1)]
    base = after + step.delay if step.delay is not None else next_morning(practice, after)
    return quiet_hours.next_allowed(
        phone, practice.timezone, base, practice_number=practice.phone_number
    )


def started_by(session: Session, task: CallbackTask, deadline: datetime) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    CallbackAttempt.task_id == task.id,
                    CallbackAttempt.dialed_at.is_not(None),
                    CallbackAttempt.dialed_at <= deadline,
                )
            )
        )
    )


def detect_breaches(session: Session, now: datetime, page: int = 500) -> list[SlaBreach]:
    """Record a breach for every task past its deadline that nobody started in time.

    Every task past its deadline is looked at once, whatever their number: the sweep goes
    page by page, and marks each task it looked at (breach or not: done in time, canceled,
    started in time but still open) as checked, so the next page and the next sweep never see
    it again. A task done before its deadline, or with a coordinator leg placed by then, is no
    breach. With the practice's alerts on, a PHI-free text goes to the manager number.
    """
    found: list[SlaBreach] = []
    while True:
        tasks = session.scalars(
            select(CallbackTask)
            .where(
                CallbackTask.sla_deadline < now,
                CallbackTask.sla_checked_at.is_(None),
                # A queued callback holds the caller's place: its clock starts at release.
                CallbackTask.status != CallbackStatus.HELD,
            )
            .order_by(CallbackTask.sla_deadline, CallbackTask.id)
            .limit(page)
        ).all()
        if not tasks:
            return found
        ids = [t.id for t in tasks]
        started = set(
            session.scalars(
                select(CallbackAttempt.task_id)
                .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
                .where(
                    CallbackAttempt.task_id.in_(ids),
                    CallbackAttempt.dialed_at.is_not(None),
                    CallbackAttempt.dialed_at <= CallbackTask.sla_deadline,
                )
            )
        )
        already = set(session.scalars(select(SlaBreach.task_id).where(SlaBreach.task_id.in_(ids))))
        session.execute(
            update(CallbackTask)
            .where(CallbackTask.id.in_(ids))
            .values(sla_checked_at=now)
            .execution_options(synchronize_session="evaluate")
        )
        for task in tasks:
            if (
                task.id in started
                or task.id in already
                or task.status is CallbackStatus.CANCELED
                or (task.closed_at is not None and task.closed_at <= task.sla_deadline)
            ):
                continue
            found.append(_breach(session, task, now))
        session.flush()


def _breach(session: Session, task: CallbackTask, now: datetime) -> SlaBreach:
    breach = SlaBreach(
        task_id=task.id,
        practice_id=task.practice_id,
        deadline=task.sla_deadline,
        detected_at=now,
    )
    session.add(breach)
    session.flush()
    _alert_manager(session, task, breach, now)
    logger.warning(
        "sla breach task_id=%s practice=%s deadline=%s",
        task.id,
        task.practice_id,
        task.sla_deadline.isoformat(),
    )
    return breach


def text_manager(
    session: Session, practice: Practice, text: str, now: datetime, dedupe_key: str
) -> int | None:
    """A staff alert to the practice's manager through the one send function, when the practice
    has a manager's number and its staff-alert switch on. Returns the message id, or None when
    nothing was sent (logged)."""
    if (
        not practice.manager_phone
        or not messaging.settings_for(session, practice.id).alert_manager_on_breach
    ):
        return None
    try:
        message = messaging.send_sms(
            session,
            practice,
            practice.manager_phone,
            text,
            MessageKind.STAFF_ALERT,
            now,
            dedupe_key=dedupe_key,
        )
    except DomainError as exc:
        logger.warning("manager alert not sent dedupe_key=%s: %s", dedupe_key, exc)
        return None
    return message.id


def _alert_manager(session: Session, task: CallbackTask, breach: SlaBreach, now: datetime) -> None:
    practice = session.get_one(Practice, task.practice_id)
    local = task.sla_deadline.astimezone(ZoneInfo(practice.timezone))
    text = (
        f"{practice.name}: a callback ({task.reason.value.replace('_', ' ')}) due by "
        f"{local.strftime('%I:%M %p').lstrip('0')} has not been started. Please check the console."
    )
    sent = text_manager(session, practice, text, now, f"sla-breach:{task.id}")
    if sent is not None:
        breach.alert_message_id = sent


def open_breaches(session: Session, practice_id: int) -> list[tuple[SlaBreach, CallbackTask]]:
    """Breaches the console shows: not acknowledged yet, newest first."""
    rows = session.execute(
        select(SlaBreach, CallbackTask)
        .join(CallbackTask, CallbackTask.id == SlaBreach.task_id)
        .where(SlaBreach.practice_id == practice_id, SlaBreach.acknowledged_at.is_(None))
        .order_by(SlaBreach.detected_at.desc())
    ).all()
    return [(b, t) for b, t in rows]
