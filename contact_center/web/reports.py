"""The wallboard's measures for one practice, computed from calls, presence and callbacks.

Service level: share of in-hours inbound calls answered within 20 s of arriving, among those
answered or abandoned. Abandoned: an in-hours inbound call that ended unanswered. Callback
times are measured from the task's creation to its closing (the dialer's first-dial times
arrive with the dialer feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from appointments.measures import Measures, appointment_measures
from contact_center.leads.models import Lead
from contact_center.models import Practice
from contact_center.web import queries
from ivr.models import Call, CallStatus, Direction
from qa.models import CallOutcome, CallScore, Criterion, CriterionResult
from routing.dialer_models import CallbackAttempt
from routing.models import CallbackStatus, CallbackTask, PresenceState

SERVICE_LEVEL_SECONDS = 20
_FINAL = [s for s in CallStatus if s.is_final]


@dataclass(frozen=True)
class DayPoint:
    day: date
    calls: int
    answered: int
    service_level: float | None
    callbacks: int
    callbacks_met: int
    speed_p50_s: float | None = None
    conversion: float | None = None


@dataclass
class Wallboard:
    practice: str
    waiting: int
    longest_wait_s: int
    presence: dict[str, list[str]]
    calls_today: int
    answered_today: int
    service_level: float | None
    abandonment: float | None
    average_answer_s: float | None
    speed_p50_s: float | None
    speed_p90_s: float | None
    sla_breaches: int
    open_callbacks: int
    days: list[DayPoint] = field(default_factory=list)
    qa_by_criterion: list[tuple[str, float]] = field(default_factory=list)
    # After booking (appointments.measures): the practice first, then each lead source.
    appointments: list[Measures] = field(default_factory=list)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _service(calls: list[Call]) -> tuple[int, float | None, float | None, float | None]:
    """(answered, service level, abandonment, average speed of answer) of inbound calls."""
    in_hours = [c for c in calls if c.direction is Direction.INBOUND and not c.after_hours]
    answered = [c for c in in_hours if c.answered_at is not None]
    abandoned = [c for c in in_hours if c.answered_at is None and c.status.is_final]
    fast = [
        c
        for c in answered
        if c.answered_at and (c.answered_at - c.started_at).total_seconds() <= SERVICE_LEVEL_SECONDS
    ]
    offered = len(answered) + len(abandoned)
    waits = [(c.answered_at - c.started_at).total_seconds() for c in answered if c.answered_at]
    return (
        len(answered),
        len(fast) / offered if offered else None,
        len(abandoned) / offered if offered else None,
        sum(waits) / len(waits) if waits else None,
    )


def wallboard(session: Session, practice_id: int, now: datetime, days: int = 30) -> Wallboard:
    practice: Practice = queries.practice(session, practice_id)
    zone = ZoneInfo(practice.timezone)
    today = now.astimezone(zone).date()
    since = _local_midnight(today - timedelta(days=days - 1), zone)
    calls = list(
        session.scalars(
            select(Call).where(Call.practice_id == practice_id, Call.started_at >= since)
        )
    )
    tasks = list(
        session.scalars(
            select(CallbackTask).where(
                CallbackTask.practice_id == practice_id, CallbackTask.created_at >= since
            )
        )
    )
    live = [
        c
        for c in calls
        if c.status not in _FINAL and c.answered_at is None and c.direction is Direction.INBOUND
    ]
    presence: dict[str, list[str]] = {s.value: [] for s in PresenceState}
    for user, state in queries.coordinators(session, practice_id):
        presence[state.value].append(user.name)

    start_today = _local_midnight(today, zone)
    calls_today = [c for c in calls if c.started_at >= start_today]
    answered, level, abandonment, asa = _service(calls_today)
    speeds = _speed_to_lead(session, practice_id, since)
    speeds_today = [v for at, v in speeds if at >= start_today]
    booked = _outcomes(session, practice_id, since)
    open_tasks = session.scalars(
        select(CallbackTask).where(
            CallbackTask.practice_id == practice_id,
            CallbackTask.status.in_([CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]),
        )
    ).all()
    breaches = sum(1 for t in open_tasks if t.sla_deadline < now) + sum(
        1
        for t in tasks
        if t.closed_at is not None and t.closed_at >= start_today and t.closed_at > t.sla_deadline
    )
    return Wallboard(
        practice=practice.name,
        waiting=len(live),
        longest_wait_s=int(max(((now - c.started_at).total_seconds() for c in live), default=0)),
        presence=presence,
        calls_today=len(calls_today),
        answered_today=answered,
        service_level=level,
        abandonment=abandonment,
        average_answer_s=asa,
        speed_p50_s=percentile(speeds_today, 50),
        speed_p90_s=percentile(speeds_today, 90),
        sla_breaches=breaches,
        open_callbacks=len(open_tasks),
        days=_days(calls, tasks, speeds, booked, today, zone, days),
        qa_by_criterion=_qa_by_criterion(session, practice_id, since),
        appointments=appointment_measures(session, practice_id, since, now),
    )


def _speed_to_lead(
    session: Session, practice_id: int, since: datetime
) -> list[tuple[datetime, float]]:
    """(lead time, seconds from the lead to the dialer's first dial) of recent leads."""
    rows = session.execute(
        select(Lead.created_at, func.min(CallbackAttempt.dialed_at))
        .join(CallbackAttempt, CallbackAttempt.task_id == Lead.callback_task_id)
        .where(
            Lead.practice_id == practice_id,
            Lead.created_at >= since,
            CallbackAttempt.dialed_at.is_not(None),
        )
        .group_by(Lead.id, Lead.created_at)
    ).all()
    return [(at, max(0.0, (first - at).total_seconds())) for at, first in rows if first]


def _outcomes(session: Session, practice_id: int, since: datetime) -> list[tuple[int, bool]]:
    """(call id, booked?) of recent calls with an outcome."""
    rows = session.execute(
        select(CallOutcome.call_id, CallOutcome.disposition)
        .join(Call, Call.id == CallOutcome.call_id)
        .where(
            CallOutcome.practice_id == practice_id,
            Call.started_at >= since,
            CallOutcome.disposition.is_not(None),
        )
    ).all()
    return [(call_id, bool(d and d.booked)) for call_id, d in rows]


def _qa_by_criterion(
    session: Session, practice_id: int, since: datetime
) -> list[tuple[str, float]]:
    """Share of scored calls meeting each criterion (latest result per call)."""
    rows = session.execute(
        select(Criterion.label, CriterionResult.met)
        .join(CriterionResult, CriterionResult.criterion_id == Criterion.id)
        .join(CallScore, CallScore.id == CriterionResult.call_score_id)
        .where(
            CallScore.practice_id == practice_id,
            CallScore.created_at >= since,
            CriterionResult.met.is_not(None),
        )
    ).all()
    totals: dict[str, list[int]] = {}
    for label, met in rows:
        totals.setdefault(label, []).append(1 if met else 0)
    return [(label, sum(v) / len(v)) for label, v in totals.items()]


def _days(
    calls: list[Call],
    tasks: list[CallbackTask],
    speeds: list[tuple[datetime, float]],
    booked: list[tuple[int, bool]],
    today: date,
    zone: ZoneInfo,
    days: int,
) -> list[DayPoint]:
    outcome_of = dict(booked)
    points = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        start = _local_midnight(day, zone)
        end = start + timedelta(days=1)
        day_calls = [c for c in calls if start <= c.started_at < end]
        day_tasks = [t for t in tasks if start <= t.created_at < end]
        answered, level, _abandon, _asa = _service(day_calls)
        met = sum(1 for t in day_tasks if t.closed_at is not None and t.closed_at <= t.sla_deadline)
        with_outcome = [outcome_of[c.id] for c in day_calls if c.id in outcome_of]
        points.append(
            DayPoint(
                day,
                len(day_calls),
                answered,
                level,
                len(day_tasks),
                met,
                percentile([v for at, v in speeds if start <= at < end], 50),
                sum(with_outcome) / len(with_outcome) if with_outcome else None,
            )
        )
    return points
