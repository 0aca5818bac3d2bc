"""Answers to appointment reminders: the classifier on many phrasings, then every reply kind
through Twilio's signed webhook: confirm, reschedule (task, link, page), anything else to the
inbox, STOP first; the reschedule page by link, and what it shows without a valid token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments import catalog, reminders, services
from appointments.links import Links
from appointments.models import Appointment, AppointmentStatus, Service
from appointments.reminder_jobs import reconcile_reminders
from contact_center import clock
from contact_center.messaging import services as messaging
from contact_center.models import Practice
from contact_center.patients import find_or_add_patient
from contact_center.simulator import TwilioSimulator
from ivr.appointment_replies import ReplyKind, classify
from routing.models import CallbackReason, CallbackTask
from tests.conftest import BASE_URL, at_local
from tests.factories import make_practice
from tests.outbound import rest_requests, run_jobs, text_in

LA = "America/Los_Angeles"
PATIENT = "+13105550142"

CONFIRM = [
    "C",
    "c",
    " C. ",
    "Confirm",
    "CONFIRMED",
    "confirm!",
    "Yes",
    "yes!!",
    "YES",
    "y",
    "Yep",
    "yeah",
    "yup",
    "Sure",
    "ok",
    "Okay",
    "k",
    "👍",
    "👍🏻",
    "👍🏼",
    "👍🏽",
    "👍🏾",
    "👍🏿",
    "👍👍",
    "👌",
    "✅",
    "✔️",
    "ok see you then",
    "OK see you then!",
    "See you then",
    "see you there",
    "see u tomorrow",
    "See you Thursday",
    "See you at 2",
    "Yes I'll be there",
    "I’ll be there",
    "I will be there, thanks!",
    "yes confirm",
    "C thanks",
    "Confirmed, thank you!",
    "Yes please",
    "sounds good",
    "Sounds great, see you then",
    "Perfect, thanks",
    "That works",
    "Absolutely",
    "yes, thank you so much",
    "Ｃ",  # full width
    "Got it thanks",
    "Looking forward to it",
    "Great",
    "yes 👍",
    "Si",
]
RESCHEDULE = [
    "R",
    "r",
    "R.",
    "R please",
    "Reschedule",
    "RESCHEDULE",
    "reschedule please",
    "Can I reschedule?",
    "I need to reschedule",
    "re-schedule",
    "resched",
    "Can't make it",
    "cant make it",
    "I can’t make it",
    "I cannot make it",
    "I can not make it anymore",
    "won't be able to make it",
    "Sorry, I won't make it",
    "unable to come",
    "Not able to make it, sorry",
    "need to move it",
    "Need to move my appointment",
    "can we move it to next week",
    "Can I change the time?",
    "I need to change my appointment",
    "push it back an hour?",
    "could we do a different day",
    "Another time please",
    "is there a later time",
    "something came up",
    "Something came up, can we rebook",
    "I need to cancel my appointment",
    "Please cancel it",
    "postpone",
]
NEITHER = [
    "",
    "   ",
    "Thanks",
    "thank you!",
    "What should I bring?",
    "Yes but where do I park?",
    "No",
    "not sure yet",
    "Who is this?",
    "hello",
    "How much does it cost?",
    "Is Dr. Kim there that day?",
    "ok but what time again?",
    "Can I bring my daughter?",
    "I'm running 10 minutes late",
    "😡",
    "see",
    "rr",
    "Cc me on the email",
]


@pytest.mark.parametrize("body", CONFIRM)
def test_confirmations(body: str) -> None:
    assert classify(body) is ReplyKind.CONFIRM


@pytest.mark.parametrize("body", RESCHEDULE)
def test_reschedule_requests(body: str) -> None:
    assert classify(body) is ReplyKind.RESCHEDULE


@pytest.mark.parametrize("body", NEITHER)
def test_everything_else_goes_to_a_person(body: str) -> None:
    assert classify(body) is None


# --- through the webhook ------------------------------------------------------------------


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA, hours="mon-sat 09:00-18:00")


@pytest.fixture
def service(session: Session, practice: Practice) -> Service:
    return catalog.add_service(session, practice.id, "Lip filler consult", 30, "consultation")


def reminded(session: Session, practice: Practice, service: Service, redis: Redis) -> Appointment:
    """An appointment Thursday Dec 10 at 2 PM whose 48-hour reminder went out."""
    clock.pin(at_local(LA, 2026, 12, 1, 9))
    patient = find_or_add_patient(session, practice.id, PATIENT, clock.now())
    assert patient is not None
    appointment = services.book(
        session,
        practice.id,
        patient.id,
        service.id,
        at_local(LA, 2026, 12, 10, 14),
        "system",
        clock.now(),
    )
    clock.pin(at_local(LA, 2026, 12, 8, 14))
    reconcile_reminders()
    run_jobs(redis)
    assert len(rest_requests(session, "Messages")) == 1
    clock.pin(at_local(LA, 2026, 12, 8, 14, 20))
    return appointment


def test_c_confirms_and_is_acknowledged(
    session: Session, twilio: TwilioSimulator, practice: Practice, service: Service, redis: Redis
) -> None:
    appointment = reminded(session, practice, service, redis)
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "👍🏽")
    assert status == 200
    assert reply == "Thank you, you are confirmed for Thu Dec 10 at 2:00 PM at Glow Aesthetics."
    session.refresh(appointment)
    assert appointment.confirmed_at == clock.now()
    conversation = messaging.find_conversation(session, practice.id, PATIENT)
    assert conversation is not None and conversation.needs_reply is False
    # The 24-hour reminder is skipped for a confirmed patient.
    clock.pin(at_local(LA, 2026, 12, 9, 14))
    reconcile_reminders()
    run_jobs(redis)
    assert len(rest_requests(session, "Messages")) == 1


def test_r_opens_a_reschedule_task_and_sends_a_link_that_moves_the_appointment(
    session: Session,
    twilio: TwilioSimulator,
    client: FlaskClient,
    practice: Practice,
    service: Service,
    redis: Redis,
) -> None:
    appointment = reminded(session, practice, service, redis)
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "can't make it, sorry")
    assert status == 200 and reply is not None
    assert "Lip filler" not in reply
    task = session.scalars(
        select(CallbackTask).where(CallbackTask.reason == CallbackReason.RESCHEDULE)
    ).one()
    assert task.phone == PATIENT and "Thu Dec 10 at 2:00 PM" in (task.note or "")
    # A second R does not open a second task.
    text_in(twilio, PATIENT, practice.phone_number, "R")
    assert len(session.scalars(select(CallbackTask)).all()) == 1
    url = re.search(r"https?://\S+", reply)
    assert url is not None and url.group(0).startswith(BASE_URL + "/r/")
    path = url.group(0).removeprefix(BASE_URL)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Glow Aesthetics" in html and "Thu Dec 10 at 2:00 PM" in html
    assert "Lip filler" not in html and "consult" not in html.lower()
    new_start = at_local(LA, 2026, 12, 11, 10)
    assert f'value="{new_start.isoformat()}"' in html
    moved = client.post(path, data={"start": new_start.isoformat()})
    assert moved.status_code == 200 and "Fri Dec 11 at 10:00 AM" in moved.get_data(as_text=True)
    session.expire_all()
    appointment = session.get_one(Appointment, appointment.id)
    assert appointment.start_at == new_start and appointment.status is AppointmentStatus.BOOKED
    # New reminders for the new time; the old link no longer works.
    assert any(r.for_start == new_start for r in reminders.reminders_of(session, appointment.id))
    again = client.get(path)
    assert again.status_code == 404 and "Glow" not in again.get_data(as_text=True)


def test_the_page_reveals_nothing_without_a_valid_token(
    session: Session,
    client: FlaskClient,
    practice: Practice,
    service: Service,
    redis: Redis,
    app: object,
) -> None:
    appointment = reminded(session, practice, service, redis)
    good = Links("test-secret-key", BASE_URL)
    wrong_key = Links("another-key", BASE_URL)
    now = clock.now()
    for path in (
        "/r/nothing",
        "/r/" + "x" * 5000,
        "/r/\x00",
        "/r/" + wrong_key.token(appointment.id, appointment.start_at, now + timedelta(hours=1)),
        "/r/" + good.token(appointment.id, appointment.start_at, now - timedelta(seconds=1)),
        "/r/" + good.token(appointment.id + 1, appointment.start_at, now + timedelta(hours=1)),
    ):
        for response in (client.get(path), client.post(path, data={"start": "x", "call": "1"})):
            body = response.get_data(as_text=True)
            assert response.status_code == 404, path
            assert "Glow" not in body and "Dec" not in body
    valid = "/r/" + good.token(appointment.id, appointment.start_at, now + timedelta(hours=1))
    for bad in ("yesterday", "2026-12-11T10:00:00", "²", "2026-12-13T10:00:00+00:00"):
        response = client.post(valid, data={"start": bad})
        assert response.status_code == 422, bad
    asked = client.post(valid, data={"call": "1"})
    assert asked.status_code == 200 and "will call you" in asked.get_data(as_text=True)
    assert session.scalars(select(CallbackTask.reason)).all() == [CallbackReason.RESCHEDULE]


def test_anything_else_lands_in_the_inbox_and_stop_still_wins(
    session: Session, twilio: TwilioSimulator, practice: Practice, service: Service, redis: Redis
) -> None:
    appointment = reminded(session, practice, service, redis)
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "Where do I park?")
    assert status == 200
    conversation = messaging.find_conversation(session, practice.id, PATIENT)
    assert conversation is not None and conversation.needs_reply is True
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "STOP")
    assert reply is not None and "unsubscribed" in reply
    session.refresh(conversation)
    assert conversation.opted_out_at is not None
    # Opted out: a later C confirms nothing and gets no answer.
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "C")
    assert reply is None
    session.refresh(appointment)
    assert appointment.confirmed_at is None


def test_a_c_without_a_reminded_appointment_is_just_a_message(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 12, 8, 14))
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "C")
    assert status == 200
    assert reply is not None and "confirmed" not in reply  # the first-text acknowledgment
    conversation = messaging.find_conversation(session, practice.id, PATIENT)
    assert conversation is not None and conversation.needs_reply is True
