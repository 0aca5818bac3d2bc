"""Opt-out in plain words over the signed SMS webhook: one confirmation, texts and calls stop;
a possible opt-out waits in the inbox, pauses automated texts and calls, and a coordinator
confirms or clears it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.messaging import pause, services
from contact_center.messaging.models import (
    Conversation,
    Message,
    MessageKind,
    MessageStatus,
)
from contact_center.models import Practice
from contact_center.simulator import TwilioSimulator
from ivr.models import ConsentKind, ConsentRecord
from routing import dialer
from routing.dialer_models import AttemptState, CallbackAttempt
from routing.models import CallbackStatus, CallbackTask
from tests.conftest import at_local
from tests.factories import make_coordinator, make_practice
from tests.outbound import rest_requests, run_jobs, text_in
from tests.web.conftest import log_in, make_login

LA = "America/Los_Angeles"
PATIENT = "+13105550150"


@pytest.fixture
def practice(session: Session) -> Practice:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))  # Tuesday 11 AM: open, not quiet
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def conversation(session: Session, practice: Practice, phone: str = PATIENT) -> Conversation:
    session.expire_all()
    return session.scalars(
        select(Conversation).where(
            Conversation.practice_id == practice.id, Conversation.phone == phone
        )
    ).one()


def ledger(session: Session, phone: str = PATIENT) -> list[tuple[bool, str]]:
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.phone == phone, ConsentRecord.kind == ConsentKind.SMS)
        .order_by(ConsentRecord.id)
    )
    return [(r.granted, r.method) for r in rows]


def tasks(session: Session, phone: str = PATIENT) -> list[CallbackTask]:
    session.expire_all()
    return list(session.scalars(select(CallbackTask).where(CallbackTask.phone == phone)))


@pytest.mark.parametrize(
    ("body", "method"),
    [
        ("please stop", "phrase"),
        ("STOP ALL", "keyword"),
        ("opt-out", "keyword"),
        ("STOP?", "keyword"),
        ("ＳＴＯＰ", "keyword"),
        ("stop texting me", "phrase"),
        ("remove me from your list", "phrase"),
        ("Don't text me anymore", "phrase"),
    ],
)
def test_plain_word_opt_outs_are_confirmed_once_and_open_no_inquiry(
    session: Session,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
    body: str,
    method: str,
) -> None:
    status, reply = text_in(twilio, PATIENT, practice.phone_number, body)
    assert status == 200 and reply is not None
    assert "unsubscribed from Glow Aesthetics" in reply  # not an acknowledgment
    assert conversation(session, practice).opted_out_at is not None
    assert tasks(session) == []  # no callback task, so no phone call
    assert ledger(session) == [(False, method)]
    assert text_in(twilio, PATIENT, practice.phone_number, body) == (200, None)  # once
    assert ledger(session) == [(False, method)]


def test_an_opt_out_in_words_ends_the_callbacks_already_open(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    text_in(twilio, PATIENT, practice.phone_number, "Hi! Interested in a consult")
    [task] = tasks(session)
    assert task.status is CallbackStatus.OPEN
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "Please stop calling me")
    assert reply is not None and "unsubscribed" in reply
    [task] = tasks(session)
    assert task.status is CallbackStatus.CANCELED
    states = session.scalars(
        select(CallbackAttempt.state).where(CallbackAttempt.task_id == task.id)
    ).all()
    assert set(states) == {AttemptState.CANCELED}


def _flagged(
    session: Session, twilio: TwilioSimulator, practice: Practice
) -> tuple[CallbackAttempt, Message]:
    """A patient with an open callback writes "wrong number?"; a reminder is queued."""
    make_coordinator(session, practice, "ava")
    text_in(twilio, PATIENT, practice.phone_number, "Hi! Interested in a consult")
    [task] = tasks(session)
    status, reply = text_in(twilio, PATIENT, practice.phone_number, "wrong number?")
    assert (status, reply) == (200, None)  # no acknowledgment, no confirmation
    conv = conversation(session, practice)
    assert conv.opt_out_review_at is not None and conv.opted_out_at is None
    assert conv.needs_reply is True
    assert services.contact_paused(session, practice.id, PATIENT)
    assert len(tasks(session)) == 1  # no new inquiry either
    reminder = services.send_sms(
        session,
        practice,
        PATIENT,
        "A reminder from Glow Aesthetics: see you Friday at 2 PM.",
        MessageKind.REMINDER,
        clock.now(),
    )
    assert reminder.send_after is not None and reminder.send_after >= clock.now() + timedelta(
        minutes=59
    )
    attempt = session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.task_id == task.id)
    ).one()
    return attempt, reminder


def test_a_possible_opt_out_pauses_automated_texts_and_calls_until_a_person_decides(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    attempt, reminder = _flagged(session, twilio, practice)
    # The dialer does not ring anyone for this patient; it looks again later.
    order = dialer.claim(session, attempt.id, clock.now())
    assert isinstance(order, dialer.Wait) and order.until is not None
    assert order.until >= clock.now() + timedelta(minutes=59)
    # The delivery job holds the reminder past its moment.
    later = clock.now() + timedelta(hours=2)
    assert services.claim_for_delivery(session, reminder.id, later) is None
    assert reminder.status is MessageStatus.PENDING and reminder.send_after is not None
    assert reminder.send_after > later
    # A missed-call text (a direct reply) is held too, and no longer counts as a reply.
    text_back = services.send_sms(
        session,
        practice,
        PATIENT,
        "Sorry we missed your call at Glow Aesthetics!",
        MessageKind.MISSED_CALL,
        clock.now(),
        direct_reply=True,
    )
    assert text_back.unsolicited and text_back.send_after is not None
    # A person in the inbox may still write (and ask what the patient meant).
    reply = services.send_sms(
        session,
        practice,
        PATIENT,
        "Sorry! Would you like us to stop texting you?",
        MessageKind.COORDINATOR,
        clock.now(),
        direct_reply=True,
    )
    assert reply.send_after is None
    # Automated texts a person waits on are refused with the reason.
    with pytest.raises(services.SmsRefused) as refused:
        services.send_sms(
            session,
            practice,
            PATIENT,
            "Hello from Glow Aesthetics.",
            MessageKind.REMINDER,
            clock.now(),
            on_quiet=services.OnQuiet.REFUSE,
        )
    assert refused.value.reason == "opt_out_review"
    # A later STOP decides it: opted out, the held reminder refused.
    text_in(twilio, PATIENT, practice.phone_number, "STOP")
    conv = conversation(session, practice)
    assert conv.opted_out_at is not None and conv.opt_out_review_at is None
    session.refresh(reminder)
    assert reminder.status is MessageStatus.REFUSED


def test_the_coordinator_confirms_the_opt_out_from_the_inbox(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    attempt, reminder = _flagged(session, twilio, practice)
    coordinator = make_login(session, practice, "rita")
    conv = conversation(session, practice)
    assert [c.id for c in pause.possible_opt_outs(session, practice.id)] == [conv.id]
    session.commit()
    csrf = log_in(client, coordinator.email or "")
    page = client.get(f"/p/{practice.id}/inbox?c={conv.id}").get_data(as_text=True)
    assert "possible opt-out" in page and 'data-testid="confirm-opt-out"' in page
    response = client.post(
        f"/p/{practice.id}/inbox/{conv.id}/opt-out",
        data={"decision": "confirm", "csrf_token": csrf},
    )
    assert response.status_code == 302
    conv = conversation(session, practice)
    assert conv.opted_out_at is not None and conv.opt_out_review_at is None
    assert ledger(session) == [(False, "coordinator")]
    assert pause.possible_opt_outs(session, practice.id) == []
    session.refresh(reminder)
    assert reminder.status is MessageStatus.REFUSED
    [task] = tasks(session)
    assert task.status is CallbackStatus.CANCELED
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []
    # Deciding twice is refused politely, not a 500.
    again = client.post(
        f"/p/{practice.id}/inbox/{conv.id}/opt-out",
        data={"decision": "clear", "csrf_token": csrf},
    )
    assert again.status_code == 409


def test_not_an_opt_out_releases_what_waited(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    practice: Practice,
    redis: Redis,
) -> None:
    attempt, reminder = _flagged(session, twilio, practice)
    coordinator = make_login(session, practice, "rita")
    conv = conversation(session, practice)
    session.commit()
    run_jobs(redis)
    assert rest_requests(session, "Calls") == []  # paused
    csrf = log_in(client, coordinator.email or "")
    response = client.post(
        f"/p/{practice.id}/inbox/{conv.id}/opt-out",
        data={"decision": "clear", "csrf_token": csrf},
    )
    assert response.status_code == 302
    conv = conversation(session, practice)
    assert conv.opt_out_review_at is None and conv.opted_out_at is None
    assert ledger(session) == []
    run_jobs(redis)
    bodies = [r.form["Body"] for r in rest_requests(session, "Messages")]
    assert "A reminder from Glow Aesthetics: see you Friday at 2 PM." in bodies
    assert [r.form["To"] for r in rest_requests(session, "Calls")] == ["client:ava"]
    assert (
        client.post(
            f"/p/{practice.id}/inbox/{conv.id}/opt-out",
            data={"decision": "maybe", "csrf_token": csrf},
        ).status_code
        == 422
    )
