"""Journeys end to end on PostgreSQL and Redis: an appointment marked fulfilled or no-show
starts the practice's default journeys; the product's clock moves forward, the reconciler runs
(as the worker's ticker would) and the queued jobs run, texts reaching the Twilio adapter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments import services as booking
from appointments.models import Appointment, Service
from contact_center import clock
from contact_center.messaging.models import Message, MessageKind
from contact_center.models import Patient, Practice, Role
from contact_center.patients import find_or_add_patient
from contact_center.simulator import TwilioSimulator
from journeys import jobs, runner
from journeys.consent import ConsentSource, has_marketing_consent, record_marketing_consent
from journeys.defaults import DEFAULT_JOURNEYS
from journeys.models import (
    Journey,
    JourneyEvent,
    JourneyStep,
    ReviewAsk,
    RunState,
    StepAction,
    StepRun,
)
from journeys.reviews import set_review_link
from journeys.services import backfill_reactivation
from routing.models import CallbackReason, CallbackTask
from tests.conftest import at_local
from tests.factories import make_practice
from tests.outbound import rest_requests, run_jobs, text_in
from tests.web.conftest import log_in, make_login

LA = "America/Los_Angeles"
PHONE = "+13105550177"
BOOKED_AT = at_local(LA, 2026, 12, 1, 10)  # Tuesday
START = at_local(LA, 2026, 12, 7, 10)  # the next Monday, 10 AM
CHECKOUT = START + timedelta(minutes=45)


@pytest.fixture
def practice(session: Session) -> Practice:
    clock.pin(BOOKED_AT)
    practice = make_practice(session, name="Glow Aesthetics", timezone=LA)
    catalog.add_provider(session, practice.id, "Dana")
    patient = find_or_add_patient(session, practice.id, PHONE, BOOKED_AT)
    assert patient is not None
    patient.first_name = "Ana"
    session.commit()
    return practice


def _patient(session: Session, practice: Practice) -> Patient:
    return session.scalars(select(Patient).where(Patient.practice_id == practice.id)).one()


def _service(session: Session, practice: Practice, kind: str, needs_checkin: bool = False) -> int:
    name = f"{kind} {needs_checkin}"
    found = session.scalars(
        select(Service).where(Service.practice_id == practice.id, Service.name == name)
    ).first()
    service = found or catalog.add_service(
        session, practice.id, name, 30, kind, needs_checkin=needs_checkin
    )
    return service.id


def _book(session: Session, practice: Practice, service_id: int, start: datetime) -> Appointment:
    patient = _patient(session, practice)
    return booking.book(session, practice.id, patient.id, service_id, start, "system", clock.now())


def _visit(
    session: Session,
    redis: Redis,
    practice: Practice,
    kind: str = "treatment",
    *,
    needs_checkin: bool = False,
    status: str = "fulfilled",
    start: datetime = START,
) -> Appointment:
    """Book, then at the visit mark it (arrived and fulfilled, or no-show), and let the start
    job run."""
    service_id = _service(session, practice, kind, needs_checkin)
    appointment = _book(session, practice, service_id, start)
    session.commit()
    if status == "fulfilled":
        clock.pin(start)
        booking.mark(session, appointment.id, "arrived", "system", start)
        session.commit()
    checkout = start + (CHECKOUT - START)
    clock.pin(checkout)
    booking.mark(session, appointment.id, status, "system", checkout)
    session.commit()
    run_jobs(redis)
    return appointment


def advance(session: Session, redis: Redis, to: datetime) -> None:
    """The clock moves to ``to`` in steps of at most six hours, and at each the worker's ticker
    runs the reconciler and the jobs run: steps due on different days go out on their days
    (one jump would send them all at once, and the healthcare daily cap would refuse them)."""
    now = clock.now()
    while True:
        now = min(to, now + timedelta(hours=6)) if now < to else to
        clock.pin(now)
        jobs.reconcile_journeys()
        run_jobs(redis)
        if now >= to:
            break
    session.expire_all()


def runs(session: Session, practice: Practice) -> list[StepRun]:
    session.expire_all()
    return list(
        session.scalars(
            select(StepRun)
            .where(StepRun.practice_id == practice.id)
            .order_by(StepRun.due_at, StepRun.id)
        )
    )


def done(session: Session, practice: Practice) -> list[tuple[str, str | None]]:
    return [
        (r.step.journey.key, r.outcome)
        for r in runs(session, practice)
        if r.state is not RunState.SCHEDULED
    ]


def texts(session: Session, practice: Practice) -> list[Message]:
    session.expire_all()
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.practice_id == practice.id,
                Message.kind.in_([MessageKind.CARE, MessageKind.MARKETING]),
            )
            .order_by(Message.id)
        )
    )


def journey_tasks(session: Session, practice: Practice) -> list[CallbackTask]:
    return list(
        session.scalars(
            select(CallbackTask)
            .where(
                CallbackTask.practice_id == practice.id,
                CallbackTask.reason == CallbackReason.JOURNEY,
            )
            .order_by(CallbackTask.id)
        )
    )


def test_post_visit_thank_you_text_check_in_and_results_text(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice)
    scheduled = runs(session, practice)
    # Post-visit (4 steps), review request (2) and reactivation (3), nothing run yet.
    assert len(scheduled) == 9
    assert all(r.state is RunState.SCHEDULED for r in scheduled)
    assert scheduled[0].due_at == CHECKOUT + timedelta(minutes=30)

    advance(session, redis, CHECKOUT + timedelta(minutes=29))
    assert done(session, practice) == []
    advance(session, redis, CHECKOUT + timedelta(minutes=31))  # within an hour of checkout
    [thanks] = texts(session, practice)
    assert thanks.kind is MessageKind.CARE and thanks.message_sid is not None
    assert thanks.body.startswith("Glow Aesthetics: Thank you") and "Ana" in thanks.body
    assert "Reply STOP" in thanks.body and len(thanks.body) <= 160
    [sent] = rest_requests(session, "Messages")
    assert sent.form["To"] == PHONE and sent.form["Body"] == thanks.body

    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    # The service needs no check-in call: the text goes, the call step is skipped.
    assert done(session, practice)[1:] == [
        ("post_visit", "no_checkin_needed"),
        ("post_visit", "text"),
    ]
    assert journey_tasks(session, practice) == []
    assert "How are you feeling?" in texts(session, practice)[-1].body

    advance(session, redis, CHECKOUT + timedelta(days=7, minutes=1))
    assert "results" in texts(session, practice)[-1].body
    assert len(rest_requests(session, "Messages")) == 3


def test_check_in_is_a_call_task_for_a_service_that_needs_one(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice, needs_checkin=True)
    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    assert done(session, practice) == [
        ("post_visit", "text"),
        ("post_visit", "call_task"),
        ("post_visit", "needs_checkin"),
    ]
    [task] = journey_tasks(session, practice)
    assert task.phone == PHONE and task.note is not None and "check-in" in task.note
    # Due when the step ran: its moment, a day after checkout (the ticker is at most a minute late).
    assert CHECKOUT + timedelta(days=1) <= task.due_at <= CHECKOUT + timedelta(days=1, minutes=1)
    assert len(texts(session, practice)) == 1  # only the thank-you


def test_consultation_without_booking_call_next_day_then_text_three_days_later(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice, "consultation")
    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    assert ("consultation", "call_task") in done(session, practice)
    assert len(journey_tasks(session, practice)) == 1
    advance(session, redis, CHECKOUT + timedelta(days=4, minutes=1))
    assert ("consultation", "text") in done(session, practice)
    assert "Ready to book" in texts(session, practice)[-1].body


def test_a_booking_after_the_consultation_stops_its_journey(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice, "consultation")
    _book(session, practice, _service(session, practice, "treatment"), START + timedelta(days=14))
    session.commit()
    advance(session, redis, CHECKOUT + timedelta(days=4, minutes=1))
    consultation = [o for key, o in done(session, practice) if key == "consultation"]
    assert consultation == ["booked_since", "booked_since"]
    assert journey_tasks(session, practice) == []


def test_no_show_same_day_text_then_call_unless_rebooked(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice, status="noshow")
    assert len(runs(session, practice)) == 2  # only the no-show journey
    advance(session, redis, CHECKOUT + timedelta(minutes=16))
    [text] = texts(session, practice)
    assert "we missed you today" in text.body and text.message_sid is not None
    # The patient books again: the call step is skipped.
    _book(session, practice, _service(session, practice, "treatment"), START + timedelta(days=3))
    session.commit()
    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    assert done(session, practice) == [("no_show", "text"), ("no_show", "booked_since")]
    assert journey_tasks(session, practice) == []


def test_no_show_call_task_when_not_rebooked(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice, status="noshow")
    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    assert done(session, practice) == [("no_show", "text"), ("no_show", "call_task")]
    assert len(journey_tasks(session, practice)) == 1


def test_reactivation_without_marketing_consent_is_a_call_never_a_text(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice)
    advance(session, redis, CHECKOUT + timedelta(days=30, minutes=1))
    reactivation = [r for r in runs(session, practice) if r.step.journey.key == "reactivation"]
    assert reactivation[0].outcome == "call_task" and reactivation[0].message_id is None
    assert "no marketing consent" in (reactivation[0].detail or "")
    assert [m.kind for m in texts(session, practice)] == [MessageKind.CARE] * 3
    [task] = journey_tasks(session, practice)
    assert task.note is not None and task.note.startswith("Reactivation")


def test_reactivation_text_with_written_marketing_consent(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice)
    record = record_marketing_consent(
        session,
        practice.id,
        PHONE,
        granted=True,
        wording="Yes, text me offers from Glow Aesthetics.",
        source=ConsentSource.INTAKE,
        now=CHECKOUT,
    )
    session.commit()
    assert record.method == "intake" and record.wording and record.at == CHECKOUT
    assert has_marketing_consent(session, practice.id, PHONE)
    advance(session, redis, CHECKOUT + timedelta(days=30, minutes=1))
    last = texts(session, practice)[-1]
    assert last.kind is MessageKind.MARKETING and "see you again" in last.body
    # Withdrawn later: the 60-day step is a call task again.
    record_marketing_consent(
        session,
        practice.id,
        PHONE,
        granted=False,
        wording="",
        source=ConsentSource.KEYWORD,
        now=CHECKOUT + timedelta(days=31),
    )
    session.commit()
    advance(session, redis, CHECKOUT + timedelta(days=60, minutes=1))
    assert texts(session, practice)[-1].id == last.id
    assert len(journey_tasks(session, practice)) == 1


def test_reactivation_skipped_for_a_patient_with_a_future_appointment(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice)
    clock.pin(CHECKOUT + timedelta(days=20))
    _book(session, practice, _service(session, practice, "treatment"), START + timedelta(days=40))
    session.commit()
    advance(session, redis, CHECKOUT + timedelta(days=30, minutes=1))
    reactivation = [r for r in runs(session, practice) if r.step.journey.key == "reactivation"]
    assert reactivation[0].state is RunState.SKIPPED and reactivation[0].outcome == "returned"
    assert journey_tasks(session, practice) == []


def test_an_opt_out_in_plain_words_mid_journey_stops_it(
    session: Session, redis: Redis, practice: Practice, twilio: TwilioSimulator
) -> None:
    _visit(session, redis, practice, needs_checkin=True)
    advance(session, redis, CHECKOUT + timedelta(minutes=31))
    assert len(texts(session, practice)) == 1
    clock.pin(CHECKOUT + timedelta(hours=2))
    status, reply = text_in(twilio, PHONE, practice.phone_number, "Please stop texting me")
    assert status == 200
    run_jobs(redis)
    advance(session, redis, CHECKOUT + timedelta(days=90, minutes=1))
    outcomes = [o for _, o in done(session, practice)]
    assert outcomes[0] == "text"
    assert set(outcomes[1:]) == {"opted_out"} and len(outcomes) == 9
    assert len(texts(session, practice)) == 1 and journey_tasks(session, practice) == []
    assert len(rest_requests(session, "Messages")) == 1 + (1 if reply is None else 0)


def test_exactly_once_under_reruns_and_lost_redis(
    session: Session, redis: Redis, practice: Practice
) -> None:
    appointment = _book(session, practice, _service(session, practice, "treatment"), START)
    session.commit()
    clock.pin(START)
    booking.mark(session, appointment.id, "arrived", "system", START)
    booking.mark(session, appointment.id, "fulfilled", "system", CHECKOUT)
    session.commit()
    redis.flushdb()  # Redis lost the start job
    assert runs(session, practice) == []
    advance(session, redis, CHECKOUT + timedelta(minutes=5))  # the reconciler starts it
    assert len(runs(session, practice)) == 9
    jobs.reconcile_journeys()
    for change_id in range(1, 50):
        jobs.start_journeys(change_id)  # replays of every start job: nothing new
    assert len(runs(session, practice)) == 9

    clock.pin(CHECKOUT + timedelta(minutes=31))
    jobs.reconcile_journeys()
    jobs.reconcile_journeys()  # two ticks before any worker ran
    redis.flushdb()  # and Redis lost the queued run
    jobs.reconcile_journeys()
    jobs.reconcile_journeys()
    run_jobs(redis)
    first = runs(session, practice)[0]
    jobs.run_step(first.id)
    assert runner.run_step(session, first.id, clock.now()) is None
    run_jobs(redis)
    assert len(texts(session, practice)) == 1
    assert len(rest_requests(session, "Messages")) == 1
    assert (
        session.scalar(
            select(func.count()).select_from(StepRun).where(StepRun.state == RunState.DONE)
        )
        == 1
    )


def test_the_patient_page_lists_steps_sent_and_skipped_with_why(
    session: Session, redis: Redis, practice: Practice, client: FlaskClient
) -> None:
    _visit(session, redis, practice, needs_checkin=True)
    advance(session, redis, CHECKOUT + timedelta(days=1, minutes=1))
    make_login(session, practice, "ava", Role.COORDINATOR)
    other = make_practice(session)
    session.commit()
    log_in(client, "ava@example.test")
    patient = _patient(session, practice)
    page = client.get(f"/p/{practice.id}/patients/{patient.id}/journeys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="journey-run"') == 9
    assert "Text sent" in html and "Call task for a coordinator" in html
    assert "Skipped: this visit gets a check-in call instead" in html
    assert html.count('data-state="scheduled"') == 6
    # The appointments page links here; another practice's patient is not found.
    book = client.get(f"/p/{practice.id}/patients/{patient.id}/appointments")
    assert 'data-testid="patient-journeys-link"' in book.get_data(as_text=True)
    assert client.get(f"/p/{practice.id}/patients/999999/journeys").status_code == 404
    assert client.get(f"/p/{other.id}/patients/{patient.id}/journeys").status_code in (403, 404)


def test_a_practices_own_journey_can_alert_the_practice(
    session: Session, redis: Redis, practice: Practice
) -> None:
    practice.manager_phone = "+13105550199"
    journey = Journey(practice_id=practice.id, key="no_show_alert", name="Tell the manager")
    journey.steps = [
        JourneyStep(
            position=1,
            event=JourneyEvent.NOSHOW,
            delay_minutes=60,
            action=StepAction.ALERT,
            body="no-show",
        )
    ]
    session.add(journey)
    session.commit()
    _visit(session, redis, practice, status="noshow")
    advance(session, redis, CHECKOUT + timedelta(minutes=61))
    assert ("no_show_alert", "alert") in done(session, practice)
    [alert] = session.scalars(select(Message).where(Message.kind == MessageKind.STAFF_ALERT)).all()
    assert alert.body.startswith("Glow Aesthetics:") and PHONE not in alert.body
    assert [r.form["To"] for r in rest_requests(session, "Messages")][-1] == practice.manager_phone


def test_default_texts_fit_one_healthcare_text() -> None:
    for spec in DEFAULT_JOURNEYS:
        for step in spec.steps:
            if step.action in (StepAction.TEXT, StepAction.REVIEW_ASK, StepAction.REVIEW_REMINDER):
                body = step.body.format(
                    practice="Glow Aesthetics Studio",
                    first_name="A" * 20,
                    link="https://cc.example.test/rv/" + "0" * 24,
                )
                assert len(body) <= 160, body
                assert body.startswith("Glow Aesthetics Studio:") and "Reply STOP" in body


def test_backfill_schedules_reactivation_for_visits_before_journeys_existed(
    session: Session, redis: Redis, practice: Practice
) -> None:
    _visit(session, redis, practice)
    session.execute(delete(StepRun))  # as if the visit came before journeys
    session.commit()
    later = CHECKOUT + timedelta(days=45)
    clock.pin(later)
    assert backfill_reactivation(session, practice.id, later) == 2  # 60 and 90 days ahead
    assert backfill_reactivation(session, practice.id, later) == 0  # once
    session.commit()
    due = [r.due_at.date() for r in runs(session, practice)]
    assert due == [(START + timedelta(days=d, minutes=30)).date() for d in (60, 90)]
    assert all(r.step.journey.key == "reactivation" for r in runs(session, practice))


REVIEWS = "https://g.page/r/glow-aesthetics/review"


def _review_texts(session: Session, practice: Practice) -> list[Message]:
    return [m for m in texts(session, practice) if "review" in m.body]


def _token(message: Message) -> str:
    return message.body.split("/rv/", 1)[1].split()[0]


def test_review_ask_two_days_after_the_visit_with_a_tracked_link(
    session: Session, redis: Redis, practice: Practice, client: FlaskClient
) -> None:
    set_review_link(session, practice.id, REVIEWS)
    session.commit()
    _visit(session, redis, practice)
    advance(session, redis, CHECKOUT + timedelta(days=2, minutes=1))
    [ask] = _review_texts(session, practice)
    assert "https://cc.example.test/rv/" in ask.body and len(ask.body) <= 160
    assert ask.message_sid is not None
    token = _token(ask)
    for _ in range(2):
        clicked = client.get(f"/rv/{token}")
        assert clicked.status_code == 302 and clicked.headers["Location"] == REVIEWS
    assert client.get("/rv/" + "0" * 24).status_code == 404
    assert client.get("/rv/not-a-token").status_code == 404
    row = session.scalars(select(ReviewAsk)).one()
    session.refresh(row)
    assert row.clicks == 2 and row.first_clicked_at is not None
    # Clicked: no reminder.
    advance(session, redis, CHECKOUT + timedelta(days=7, minutes=1))
    assert len(_review_texts(session, practice)) == 1
    assert ("review_request", "clicked") in done(session, practice)


def test_one_reminder_with_the_same_link_to_a_patient_who_did_not_click(
    session: Session, redis: Redis, practice: Practice
) -> None:
    set_review_link(session, practice.id, REVIEWS)
    session.commit()
    _visit(session, redis, practice)
    advance(session, redis, CHECKOUT + timedelta(days=7, minutes=1))
    ask, reminder = _review_texts(session, practice)
    assert _token(ask) == _token(reminder)
    advance(session, redis, CHECKOUT + timedelta(days=20))
    assert len(_review_texts(session, practice)) == 2


def test_at_most_one_review_ask_per_patient_in_six_months(
    session: Session, redis: Redis, practice: Practice
) -> None:
    set_review_link(session, practice.id, REVIEWS)
    session.commit()
    _visit(session, redis, practice)
    advance(session, redis, CHECKOUT + timedelta(days=3))
    second = START + timedelta(days=35)
    clock.pin(CHECKOUT + timedelta(days=3))
    _visit(session, redis, practice, start=second)
    advance(session, redis, second + timedelta(days=3))
    # The first visit's ask and its reminder; the second visit's ask is capped.
    first_ask, reminder = _review_texts(session, practice)
    assert _token(first_ask) == _token(reminder)
    assert ("review_request", "review_cap") in done(session, practice)
    assert session.scalar(select(func.count()).select_from(ReviewAsk)) == 1
