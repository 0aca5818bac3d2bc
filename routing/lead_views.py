"""The leads API: ``POST /api/leads`` (web forms) and the SLA breach list for the console.

Authenticated with a practice API key: ``Authorization: Bearer <key>`` (or ``X-Api-Key``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from contact_center import clock, parsing
from contact_center.db import session_scope
from contact_center.leads import services
from contact_center.leads.services import Accepted
from contact_center.messaging.jobs import schedule_delivery
from routing import dialer_jobs, sla
from routing.leads import accept_lead

logger = logging.getLogger(__name__)
bp = Blueprint("leads", __name__, url_prefix="/api")


def _api_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("X-Api-Key")


def schedule_follow_up(session: Session, practice_id: int, accepted: Accepted) -> None:
    """Once ``session`` commits: the lead's instant text and its first dial. If Redis is away,
    the reconcilers send and dial it later."""
    if accepted.message_id is not None:
        schedule_delivery(session, accepted.message_id)
    if accepted.attempt_id is not None:
        dialer_jobs.schedule_first_dial(
            session, practice_id, accepted.attempt_id, accepted.attempt_due
        )


@bp.post("/leads")
def create_lead() -> tuple[Response, int]:
    """Accept a lead; the same Idempotency-Key answers the first result and creates nothing."""
    raw = request.get_data(cache=True)
    key = request.headers.get("Idempotency-Key")
    try:
        with session_scope() as session:
            practice = services.practice_for_key(session, _api_key())
            practice_id = practice.id
            data = parsing.json_body(raw)  # only for a known key: parsing costs
            accepted = accept_lead(session, practice, key, raw, data, clock.now())
            schedule_follow_up(session, practice_id, accepted)
    except services.RequestInFlight:
        # A concurrent twin held the key; it has committed (or failed) by now: replay it.
        with session_scope() as session:
            replay = services.stored_answer(
                session, practice_id, (key or "").strip(), services.request_digest(raw)
            )
            if replay is not None and replay.status_code != 0:
                schedule_follow_up(session, practice_id, replay)
        if replay is None or replay.status_code == 0:
            return jsonify(error="a request with this Idempotency-Key is in progress"), 409
        accepted = replay
    response = jsonify(accepted.body)
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, accepted.status_code


@bp.get("/callbacks/breaches")
def breaches() -> Response:
    """Callback tasks that missed their SLA and nobody acknowledged yet (newest first)."""
    with session_scope() as session:
        practice = services.practice_for_key(session, _api_key())
        rows = sla.open_breaches(session, practice.id)
        body = [
            {
                "task_id": task.id,
                "reason": task.reason.value,
                "status": task.status.value,
                "deadline": breach.deadline.isoformat(),
                "detected_at": breach.detected_at.isoformat(),
                "manager_alerted": breach.alert_message_id is not None,
            }
            for breach, task in rows
        ]
    return jsonify(breaches=body)
