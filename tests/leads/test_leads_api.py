"""POST /api/leads: API keys, validation, idempotency, and the full lead -> SMS -> dial -> bridge
path through the Twilio test harness."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.leads import services as leads
from contact_center.leads.models import IdempotentRequest, Lead
from contact_center.messaging.models import Message, MessageKind
from contact_center.models import Patient, Practice
from contact_center.simulator import DialPlan, TwilioSimulator
from ivr.models import ConsentKind, ConsentRecord
from routing.dialer_models import AttemptOutcome, AttemptState, CallbackAttempt
from routing.models import CallbackReason, CallbackStatus, CallbackTask, Presence, PresenceState
from tests.conftest import at_local
from tests.factories import make_coordinator, make_practice
from tests.openapi import problems
from tests.outbound import Leg, patient_dials, play_outbound, rest_requests, run_jobs

LA = "America/Los_Angeles"
WORDING = "I agree to receive texts from Glow Aesthetics. Reply STOP to opt out."


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


@pytest.fixture
def api_key(session: Session, practice: Practice) -> str:
    return leads.create_api_key(session, practice, clock.now(), label="website")


def lead_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Maya Lopez",
        "phone": "(310) 555-0142",
        "email": "maya@example.com",
        "source": "website",
        "message": "Interested in a consultation",
        "sms_consent": True,
        "consent_wording": WORDING,
    }
    body.update(overrides)
    return body


def post_lead(client: FlaskClient, key: str | None, body: Any, idem: str | None = "k-1") -> Any:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if idem:
        headers["Idempotency-Key"] = idem
    return client.post("/api/leads", data=json.dumps(body), headers=headers)


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_same_idempotency_key_returns_the_first_result_and_creates_nothing_new(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    first = post_lead(client, api_key, lead_body())
    assert first.status_code == 201, first.get_json()
    again = post_lead(client, api_key, lead_body())
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (count(session, Lead), count(session, CallbackTask), count(session, Message)) == (
        1,
        1,
        1,
    )
    changed = post_lead(client, api_key, lead_body(name="Someone Else"))
    assert changed.status_code == 422 and changed.get_json()["field"] == "Idempotency-Key"
    other = post_lead(client, api_key, lead_body(), idem="k-2")
    assert other.status_code == 201 and other.get_json()["lead_id"] != first.get_json()["lead_id"]
    assert count(session, Patient) == 1  # the same person, one patient
    assert count(session, IdempotentRequest) == 2


def test_validation_answers_422_with_the_field_and_writes_nothing(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    cases = [
        (lead_body(phone="555-CALL-NOW"), "phone"),
        (lead_body(phone="+1 310 555"), "phone"),
        (lead_body(phone=None), "phone"),
        (lead_body(name="  "), "name"),
        (lead_body(email="not-an-email"), "email"),
        (lead_body(sms_consent="yes"), "sms_consent"),
        (lead_body(consent_wording=None), "consent_wording"),
        (["not", "an", "object"], "body"),
    ]
    for i, (body, field) in enumerate(cases):
        response = post_lead(client, api_key, body, idem=f"bad-{i}")
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["field"] == field, body
    assert post_lead(client, api_key, lead_body(), idem=None).get_json()["field"] == (
        "Idempotency-Key"
    )
    assert post_lead(client, None, lead_body()).status_code == 403
    assert post_lead(client, "cc_wrong", lead_body()).status_code == 403
    assert (count(session, Lead), count(session, Patient), count(session, IdempotentRequest)) == (
        0,
        0,
        0,
    )


def test_accepted_lead_commits_patient_consent_and_a_task_with_its_sla(
    session: Session, client: FlaskClient, api_key: str, practice: Practice, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    body = post_lead(client, api_key, lead_body(sms_consent={"granted": True, "wording": WORDING}))
    assert body.status_code == 201
    data = body.get_json()
    assert data["phone"] == "+13105550142" and data["sms"] == "queued"
    lead = session.get_one(Lead, data["lead_id"])
    assert lead.sms_consent and lead.consent_wording == WORDING
    patient = session.get_one(Patient, data["patient_id"])
    assert (patient.first_name, patient.last_name, patient.email) == (
        "Maya",
        "Lopez",
        "maya@example.com",
    )
    task = session.get_one(CallbackTask, data["callback_task_id"])
    assert task.reason is CallbackReason.LEAD and task.status is CallbackStatus.OPEN
    assert task.sla_deadline == clock.now() + leads_timedelta(5)
    consent = session.scalars(
        select(ConsentRecord).where(ConsentRecord.kind == ConsentKind.SMS)
    ).one()
    assert (consent.granted, consent.method, consent.wording) == (True, "web_form", WORDING)
    # Without consent: no text at all, the call still comes.
    other = post_lead(
        client, api_key, lead_body(phone="+13105550143", sms_consent=False), idem="k-no-sms"
    )
    assert other.get_json()["sms"] == "not_consented"
    assert count(session, Message) == 1


def leads_timedelta(minutes: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=minutes)


def test_full_path_lead_to_sms_to_dial_to_bridge(
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    api_key: str,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    ava = make_coordinator(session, practice, "ava")
    response = post_lead(client, api_key, lead_body())
    assert response.status_code == 201
    run_jobs(redis)

    texts = rest_requests(session, "Messages")
    assert len(texts) == 1 and texts[0].form["To"] == "+13105550142"
    assert texts[0].form["Body"].startswith("Thanks for reaching out to Glow Aesthetics!")
    calls = rest_requests(session, "Calls")
    assert len(calls) == 1
    for row in (*texts, *calls):
        assert problems(row.method, row.url, row.form) == [], row.form
    assert calls[0].form["To"] == "client:ava" and calls[0].form["From"] == practice.phone_number
    assert session.get_one(Presence, ava.id).state is PresenceState.RESERVED

    sim = play_outbound(twilio, calls[0], Leg(patient=DialPlan("completed", 95)))
    assert sim.errors == []
    assert "Glow Aesthetics, callback for web lead Maya" in sim.said
    dial = ET.fromstring(sim.requests[1].body).find("Dial")
    assert dial is not None and dial.get("callerId") == practice.phone_number
    assert patient_dials(sim) == [
        {"noun": "Number", "target": "+13105550142", "status": "completed"}
    ]
    task = session.get_one(CallbackTask, response.get_json()["callback_task_id"])
    assert task.status is CallbackStatus.DONE
    attempt = session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.task_id == task.id)
    ).one()
    assert (attempt.state, attempt.outcome, attempt.coordinator_id) == (
        AttemptState.DONE,
        AttemptOutcome.CONNECTED,
        ava.id,
    )
    presence = session.get_one(Presence, ava.id)
    assert presence.state is PresenceState.AVAILABLE and presence.call_sid is None
    ack = session.scalars(select(Message).where(Message.kind == MessageKind.ACKNOWLEDGMENT)).one()
    assert ack.message_sid == texts[0].response_sid
