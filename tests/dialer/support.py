"""Helpers shared by the dialer tests: post a lead as a web form would, read its attempts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.leads import guard
from contact_center.leads import services as leads
from contact_center.messaging import quiet_hours
from contact_center.models import Practice
from routing.dialer_models import CallbackAttempt

PATIENT = "+13105550142"
WORDING = "I agree to receive texts from Glow Aesthetics."


def post_lead(
    client: FlaskClient,
    session: Session,
    practice: Practice,
    phone: str = PATIENT,
    key: str = "k-1",
) -> dict[str, Any]:
    secret = leads.create_api_key(session, practice, clock.now())
    allow_daytime_countries(session, practice)
    session.commit()  # the request runs in its own session (a savepoint release when joined)
    body = {"name": "Maya Lopez", "phone": phone, "sms_consent": True, "consent_wording": WORDING}
    response = client.post(
        "/api/leads",
        data=json.dumps(body),
        headers={
            "Authorization": f"Bearer {secret}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def attempts(session: Session, task_id: int) -> list[CallbackAttempt]:
    session.expire_all()
    return list(
        session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.task_id == task_id)
            .order_by(CallbackAttempt.attempt_no)
        )
    )


# Patients in zones around the globe: the test picks one in daytime at the real current time,
# so quiet hours never hold the dial whenever the suite runs.
DAYTIME_CANDIDATES = (
    "+13105550142",  # Los Angeles
    "+12125550142",  # New York
    "+18085550142",  # Honolulu
    "+442079460142",  # London
    "+912261234567",  # Mumbai
    "+81312345678",  # Tokyo
    "+61291234567",  # Sydney
)


# The countries of DAYTIME_CANDIDATES: US and Canadian numbers alone leave 07:00-11:30 UTC
# in quiet hours, so a practice in these tests takes leads from all of them.
DAYTIME_COUNTRIES = "US,CA,GB,IN,JP,AU"


def allow_daytime_countries(session: Session, practice: Practice) -> None:
    guard.set_guard_settings(session, practice.id, allowed_countries=DAYTIME_COUNTRIES)


def patient_in_daytime() -> str:
    now = clock.now()
    for phone in DAYTIME_CANDIDATES:
        # Open now and for the next half hour: the test must not straddle 9 PM.
        if not any(quiet_hours.is_quiet(phone, "UTC", now + timedelta(minutes=m)) for m in (0, 30)):
            return phone
    raise AssertionError("no candidate number is in daytime")  # the zones cover the clock
