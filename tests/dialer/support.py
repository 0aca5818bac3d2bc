"""Helpers shared by the dialer tests: post a lead as a web form would, read its attempts."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.leads import services as leads
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
