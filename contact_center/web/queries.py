"""What the console pages show, read within one practice (no Flask).

Every function takes the ``practice_id`` the access check granted and filters on it, so an id
from another practice is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from contact_center.leads.models import Lead
from contact_center.messaging import services as messaging
from contact_center.models import Membership, Patient, Practice, Role, User
from ivr.models import Call, CallEvent, MenuChoice
from qa.models import CallOutcome
from recordings.models import Recording
from routing.dialer_models import CallbackAttempt
from routing.models import CallbackStatus, CallbackTask, Presence, PresenceState

_Columns = TypeVarTuple("_Columns")


def practice(session: Session, practice_id: int) -> Practice:
    found = session.get(Practice, practice_id)
    if found is None:
        raise NotFound("no such practice")
    return found


def call_in_practice(session: Session, practice_id: int, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None or call.practice_id != practice_id:
        raise NotFound("no such call")
    return call


def call_by_sid_in_practice(session: Session, practice_id: int, call_sid: str) -> Call | None:
    return session.scalars(
        select(Call).where(Call.call_sid == call_sid, Call.practice_id == practice_id)
    ).one_or_none()


def patient_name(patient: Patient | None) -> str | None:
    if patient is None:
        return None
    name = " ".join(p for p in (patient.first_name, patient.last_name) if p)
    return name or None


def latest_outcome(session: Session, call_id: int) -> dict[str, Any] | None:
    """The call's outcome (disposition) as the QA feature keeps it, or None."""
    outcome = session.scalars(select(CallOutcome).where(CallOutcome.call_id == call_id)).first()
    if outcome is None or outcome.disposition is None:
        return None
    return {
        "outcome": outcome.disposition.value,
        "note": outcome.note,
        "booked_for": outcome.booked_for,
        "suggested": outcome.suggested.value if outcome.suggested else None,
        "mismatch": outcome.mismatch,
    }


def sms_opted_out(session: Session, practice_id: int, phone: str) -> bool:
    return messaging.is_opted_out(session, practice_id, phone)


def open_lead(session: Session, practice_id: int, phone: str) -> dict[str, Any] | None:
    """The number's latest lead whose callback task is still open."""
    row = session.execute(
        select(Lead, CallbackTask)
        .join(CallbackTask, CallbackTask.id == Lead.callback_task_id)
        .where(
            Lead.practice_id == practice_id,
            Lead.phone == phone,
            CallbackTask.status.in_([CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]),
        )
        .order_by(Lead.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    lead, _task = row
    return {
        "id": lead.id,
        "name": lead.name,
        "source": lead.source,
        "message": lead.message,
        "created_at": lead.created_at.isoformat(),
    }


@dataclass(frozen=True)
class PastContact:
    call_id: int
    at: datetime
    direction: str
    status: str
    answered_by: str | None
    outcome: str | None


@dataclass(frozen=True)
class ScreenPop:
    call_id: int | None  # None for a callback: its outcome is the attempt's
    call_sid: str
    practice: str
    phone: str
    name: str | None
    menu_choice: str | None
    after_hours: bool
    recording_consent: str
    sms_opted_out: bool
    lead: dict[str, Any] | None
    open_callbacks: list[dict[str, Any]] = field(default_factory=list)
    past_contacts: list[PastContact] = field(default_factory=list)


def consent_text(call: Call) -> str:
    if call.recording_allowed is True:
        return "recording allowed"
    if call.recording_allowed is False:
        return "recording refused"
    return "not asked yet"


def screen_pop(session: Session, practice_id: int, call: Call) -> ScreenPop:
    """Everything a coordinator should see before answering this call."""
    patient = session.get(Patient, call.patient_id) if call.patient_id else None
    return _pop(
        session,
        practice_id,
        patient,
        patient.phone if patient else call.from_number,
        call_id=call.id,
        call_sid=call.call_sid,
        menu_choice=MenuChoice(call.menu_choice).spoken if call.menu_choice else None,
        after_hours=call.after_hours,
        recording_consent=consent_text(call),
    )


def callback_attempt(
    session: Session, practice_id: int, call_sid: str, reservation: str | None
) -> CallbackAttempt | None:
    """The callback attempt of a callback call (the dialer ringing the coordinator, or click to
    dial), found by the leg's CallSid or the coordinator's reservation."""
    conditions = [CallbackAttempt.coordinator_call_sid == call_sid] if call_sid else []
    if reservation and reservation.startswith("DL"):
        conditions.append(CallbackAttempt.token == reservation.removeprefix("DL"))
    if not conditions:
        return None
    return session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.practice_id == practice_id, or_(*conditions))
    ).first()


def callback_pop(
    session: Session, practice_id: int, attempt: CallbackAttempt, call_sid: str
) -> ScreenPop:
    """The pop of a callback call: the patient about to be called."""
    task = session.get_one(CallbackTask, attempt.task_id)
    patient = session.get(Patient, task.patient_id) if task.patient_id else None
    what = task.note or task.reason.value.replace("_", " ")
    return _pop(
        session,
        practice_id,
        patient,
        task.phone,
        call_id=None,
        call_sid=attempt.coordinator_call_sid or call_sid,
        menu_choice=f"callback: {what} · attempt {attempt.attempt_no}",
        after_hours=False,
        recording_consent="not recorded (callback)",
    )


def _pop(
    session: Session,
    practice_id: int,
    patient: Patient | None,
    phone: str,
    *,
    call_id: int | None,
    call_sid: str,
    menu_choice: str | None,
    after_hours: bool,
    recording_consent: str,
) -> ScreenPop:
    owner = practice(session, practice_id)
    callbacks = session.scalars(
        select(CallbackTask)
        .where(
            CallbackTask.practice_id == practice_id,
            CallbackTask.phone == phone,
            CallbackTask.status.in_([CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]),
        )
        .order_by(CallbackTask.sla_deadline)
    )
    past = session.scalars(
        select(Call)
        .where(
            Call.practice_id == practice_id,
            Call.id != (call_id or 0),
            or_(Call.from_number == phone, Call.to_number == phone),
        )
        .order_by(Call.started_at.desc())
        .limit(5)
    )
    names = _user_names(session)
    return ScreenPop(
        call_id=call_id,
        call_sid=call_sid,
        practice=owner.name,
        phone=phone,
        name=patient_name(patient),
        menu_choice=menu_choice,
        after_hours=after_hours,
        recording_consent=recording_consent,
        sms_opted_out=sms_opted_out(session, practice_id, phone),
        lead=open_lead(session, practice_id, phone),
        open_callbacks=[
            {"id": t.id, "reason": t.reason.value, "deadline": t.sla_deadline.isoformat()}
            for t in callbacks
        ],
        past_contacts=[
            PastContact(
                c.id,
                c.started_at,
                c.direction.value,
                c.status.value,
                names.get(c.answered_by_id) if c.answered_by_id else None,
                (latest_outcome(session, c.id) or {}).get("outcome"),
            )
            for c in past
        ],
    )


def _user_names(session: Session) -> dict[int, str]:
    return {user_id: name for user_id, name in session.execute(select(User.id, User.name))}


@dataclass(frozen=True)
class CallbackRow:
    id: int
    phone: str
    name: str | None
    reason: str
    status: str
    due_at: datetime
    sla_deadline: datetime
    breached: bool
    note: str | None


def open_callbacks(session: Session, practice_id: int, now: datetime) -> list[CallbackRow]:
    rows = session.execute(
        select(CallbackTask, Patient)
        .outerjoin(Patient, Patient.id == CallbackTask.patient_id)
        .where(
            CallbackTask.practice_id == practice_id,
            CallbackTask.status.in_([CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS]),
        )
        .order_by(CallbackTask.sla_deadline, CallbackTask.id)
    )
    return [
        CallbackRow(
            t.id,
            t.phone,
            patient_name(p),
            t.reason.value.replace("_", " "),
            t.status.value,
            t.due_at,
            t.sla_deadline,
            now > t.sla_deadline,
            t.note,
        )
        for t, p in rows
    ]


def callback_in_practice(session: Session, practice_id: int, task_id: int) -> CallbackTask:
    task = session.get(CallbackTask, task_id)
    if task is None or task.practice_id != practice_id:
        raise NotFound("no such callback task")
    return task


def coordinators(session: Session, practice_id: int) -> list[tuple[User, PresenceState]]:
    """The practice's coordinators with their presence (offline when never seen)."""
    rows = session.execute(
        select(User, Presence.state)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(Presence, Presence.user_id == User.id)
        .where(Membership.practice_id == practice_id, Membership.role == Role.COORDINATOR)
        .order_by(User.name)
    )
    return [(u, state or PresenceState.OFFLINE) for u, state in rows]


@dataclass(frozen=True)
class CallFilter:
    coordinator_id: int | None = None
    day: date | None = None
    recorded_only: bool = False
    flag: str | None = None  # after_hours, missed, no_consent


@dataclass(frozen=True)
class CallRow:
    id: int
    started_at: datetime
    phone: str
    name: str | None
    direction: str
    status: str
    menu_choice: str | None
    coordinator: str | None
    duration_s: int | None
    recorded: bool
    consent: str
    outcome: str | None
    flags: list[str]


def _filtered(query: Select[*_Columns], practice: Practice, flt: CallFilter) -> Select[*_Columns]:
    if flt.coordinator_id:
        query = query.where(Call.answered_by_id == flt.coordinator_id)
    if flt.day:
        zone = ZoneInfo(practice.timezone)
        start = datetime(flt.day.year, flt.day.month, flt.day.day, tzinfo=zone)
        query = query.where(Call.started_at >= start, Call.started_at < start + timedelta(days=1))
    if flt.flag == "after_hours":
        query = query.where(Call.after_hours.is_(True))
    elif flt.flag == "missed":
        query = query.where(Call.answered_by_id.is_(None))
    elif flt.flag == "no_consent":
        query = query.where(Call.recording_allowed.is_not(True))
    return query


def call_list(
    session: Session, practice_id: int, flt: CallFilter, limit: int = 200
) -> list[CallRow]:
    owner = practice(session, practice_id)
    query = (
        _filtered(
            select(Call, Patient)
            .outerjoin(Patient, Patient.id == Call.patient_id)
            .where(Call.practice_id == practice_id),
            owner,
            flt,
        )
        .order_by(Call.started_at.desc())
        .limit(limit)
    )
    rows = session.execute(query).all()
    ids = [c.id for c, _ in rows]
    recorded = (
        set(session.scalars(select(Recording.call_id).where(Recording.call_id.in_(ids))).all())
        if ids
        else set()
    )
    if flt.recorded_only:
        rows = [row for row in rows if row[0].id in recorded]
    names = _user_names(session)
    result = []
    for call, patient in rows:
        flags = []
        if call.after_hours:
            flags.append("after hours")
        if call.answered_by_id is None:
            flags.append("missed")
        result.append(
            CallRow(
                call.id,
                call.started_at,
                patient.phone if patient else call.from_number,
                patient_name(patient),
                call.direction.value,
                call.status.value,
                MenuChoice(call.menu_choice).spoken if call.menu_choice else None,
                names.get(call.answered_by_id) if call.answered_by_id else None,
                call.duration_s,
                call.id in recorded,
                consent_text(call),
                (latest_outcome(session, call.id) or {}).get("outcome"),
                flags,
            )
        )
    return result


def recordings_of(session: Session, practice_id: int, call_id: int) -> list[Recording]:
    return list(
        session.scalars(
            select(Recording)
            .where(Recording.call_id == call_id, Recording.practice_id == practice_id)
            .order_by(Recording.id)
        )
    )


def timeline_of(session: Session, practice_id: int, call_id: int) -> list[CallEvent]:
    return list(
        session.scalars(
            select(CallEvent)
            .where(CallEvent.call_id == call_id, CallEvent.practice_id == practice_id)
            .order_by(CallEvent.id)
        )
    )
