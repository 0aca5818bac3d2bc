"""A practice's journeys (versioned lists of steps) and each step's run for one patient.

A step reads "after EVENT, wait DELAY, then ACTION unless CONDITION". When an event happens
(an appointment change, see ``journeys.services.start_for_change``), every step of the
practice's active journeys for that event gets a ``StepRun`` row with its due time; the
reconciler runs the due rows, each exactly once (``journeys.runner``). Editing a journey adds a
new version; runs keep pointing at the step they were made from.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db import Base, str_enum, utcnow


class JourneyEvent(enum.StrEnum):
    FULFILLED = "appointment_fulfilled"
    NOSHOW = "appointment_noshow"
    # A consultation fulfilled; the steps' condition ``booked_since`` skips them once a
    # treatment is booked, so they run only for "consultation without a treatment booked".
    CONSULTATION = "consultation_without_booking"
    # N days since the last visit: the delay counts from the visit's checkout.
    SINCE_VISIT = "days_since_visit"


class StepAction(enum.StrEnum):
    TEXT = "text"
    CALL_TASK = "call_task"  # a callback task for a coordinator
    ALERT = "alert"  # an internal alert to the practice (its manager number)
    # The practice's public review link, the same for every patient (never gated on a score),
    # through our tracked redirect; at most one ask per patient per 6 months.
    REVIEW_ASK = "review_ask"
    REVIEW_REMINDER = "review_reminder"  # the same link again, unless it was clicked


class StepCondition(enum.StrEnum):
    """``unless``: when this holds at the step's due time, the step is skipped."""

    NONE = "none"
    BOOKED_SINCE = "booked_since"  # an appointment was booked after the event
    RETURNED = "returned"  # a future appointment, or a visit after the event
    NEEDS_CHECKIN = "needs_checkin"  # the visit's service is marked as needing a check-in
    NO_CHECKIN_NEEDED = "no_checkin_needed"


class ConsentClass(enum.StrEnum):
    CARE = "care"  # about the patient's own care: the number the patient gave is enough
    MARKETING = "marketing"  # offers, reactivation: separate written consent in the ledger


class RunState(enum.StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    SKIPPED = "skipped"


class Journey(Base):
    """One version of a practice's journey; at most one version of a key is active."""

    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("practice_id", "key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(40))  # "post_visit", "no_show", ...
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[JourneyStep]] = relationship(
        order_by="JourneyStep.position", back_populates="journey"
    )


class JourneyStep(Base):
    __tablename__ = "journey_steps"
    __table_args__ = (UniqueConstraint("journey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    event: Mapped[JourneyEvent] = mapped_column(str_enum(JourneyEvent))
    delay_minutes: Mapped[int] = mapped_column()
    action: Mapped[StepAction] = mapped_column(str_enum(StepAction))
    condition: Mapped[StepCondition] = mapped_column(
        str_enum(StepCondition), default=StepCondition.NONE
    )
    consent_class: Mapped[ConsentClass] = mapped_column(
        str_enum(ConsentClass), default=ConsentClass.CARE
    )
    # The text ({first_name}, {practice}); for a call task or an alert, its note.
    body: Mapped[str] = mapped_column(Text, default="")
    # A marketing text for a patient without marketing consent: a call task instead (True) or
    # skipped (False). Never a text.
    call_without_consent: Mapped[bool] = mapped_column(default=False)

    journey: Mapped[Journey] = relationship(back_populates="steps")


class StepRun(Base):
    """One step for one patient and one event: scheduled, then done or skipped (and why)."""

    __tablename__ = "journey_step_runs"
    __table_args__ = (
        # One run per step and event however often the event is replayed.
        UniqueConstraint("step_id", "trigger_key"),
        Index("ix_journey_step_runs_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[int] = mapped_column(ForeignKey("journey_steps.id", ondelete="CASCADE"))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE")
    )
    trigger_key: Mapped[str] = mapped_column(String(80))  # "appointment:12"
    event_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[RunState] = mapped_column(str_enum(RunState), default=RunState.SCHEDULED)
    # What happened: text, call_task, alert; or why it was skipped: opted_out, returned, ...
    outcome: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_messages.id", ondelete="SET NULL")
    )
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    step: Mapped[JourneyStep] = relationship()


class JourneyTrigger(Base):
    """An appointment change already turned into step runs (the reconciler's "done" mark)."""

    __tablename__ = "journey_triggers"

    change_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_changes.id", ondelete="CASCADE"), primary_key=True
    )
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewSettings(Base):
    """Where a practice's review asks send patients (no row: no asks)."""

    __tablename__ = "journey_review_settings"

    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True
    )
    review_url: Mapped[str] = mapped_column(String(500))


class ReviewAsk(Base):
    """One review ask: its tracked link (``/rv/<token>``) and the clicks on it."""

    __tablename__ = "journey_review_asks"
    __table_args__ = (Index("ix_journey_review_asks_patient", "patient_id", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="SET NULL")
    )
    token: Mapped[str] = mapped_column(String(32), unique=True)
    review_url: Mapped[str] = mapped_column(String(500))  # where the redirect goes
    asked_at: Mapped[datetime] = mapped_column()
    clicks: Mapped[int] = mapped_column(default=0)
    first_clicked_at: Mapped[datetime | None] = mapped_column()
