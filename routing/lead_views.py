"""The leads API: ``POST /api/leads`` (web forms) and the SLA breach list for the console.

Authenticated with a practice API key: ``Authorization: Bearer <key>`` (or ``X-Api-Key``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.orm import Session

from contact_center import clock, parsing, ratelimit
from contact_center.db import session_scope
from contact_center.leads import guard, services
from contact_center.leads.services import Accepted
from contact_center.messaging.jobs import schedule_delivery
from routing import dialer_jobs, sla
from routing.leads import accept_lead

logger = logging.getLogger(__name__)
bp = Blueprint("leads", __name__, url_prefix="/api")

# Refused leads kept per practice and reason (every one is in the log).
REFUSAL_LOG_LIMIT = "30/minute"


def _api_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("X-Api-Key")


def schedule_follow_up(session: Session, practice_id: int, accepted: Accepted) -> None:
    """Once ``session`` commits: the lead's instant text, its first dial and a surge alert to
    the manager. If Redis is away, the reconcilers send and dial it later."""
    if accepted.message_id is not None:
        schedule_delivery(session, accepted.message_id)
    if accepted.staff_alert_id is not None:
        schedule_delivery(session, accepted.staff_alert_id)
    if accepted.attempt_id is not None:
        dialer_jobs.schedule_first_dial(
            session, practice_id, accepted.attempt_id, accepted.attempt_due
        )


@dataclass(frozen=True)
class ApiScreen:
    """The leads API's fraud checks: the practice's destination rules, then rate limits per
    API key, client address and destination (Redis, through Flask-Limiter)."""

    rules: guard.GuardSettings
    practice_id: int
    key_id: str  # a digest of the API key, never the key
    address: str

    def screen(self, phone: str) -> None:
        # Destination first: a flood of refused numbers costs no limit a real lead needs.
        guard.check_destination(self.rules, phone)
        over = ratelimit.hit("lead-key", self.rules.per_key_limit, self.key_id)
        if over is not None:
            raise _too_many(guard.RATE_KEY, "with this API key", over, phone)
        over = ratelimit.hit(
            "lead-address", self.rules.per_address_limit, f"{self.practice_id}:{self.address}"
        )
        if over is not None:
            raise _too_many(guard.RATE_ADDRESS, "from this address", over, phone)
        over = ratelimit.hit(
            "lead-destination", self.rules.per_destination_limit, f"{self.practice_id}:{phone}"
        )
        if over is not None:
            raise _too_many(guard.RATE_DESTINATION, "for this phone number", over, phone)


def _too_many(
    reason: str, what: str, over: ratelimit.Exceeded, phone: str | None = None
) -> guard.LeadRefused:
    return guard.LeadRefused(
        reason,
        f"Too many leads {what} (limit {over.limit}); try again in {over.minutes} "
        f"minute{'s' if over.minutes != 1 else ''}.",
        429,
        phone=phone,
        retry_after_s=over.retry_after_s,
    )


def _refused(practice_id: int, refused: guard.LeadRefused, address: str) -> tuple[Response, int]:
    """A clear 422 or 429, logged; kept for the practice to see (in a flood, the first
    REFUSAL_LOG_LIMIT per reason: refusing must stay cheaper than accepting)."""
    logger.warning(
        "lead refused practice=%s reason=%s status=%s phone=%s address=%s",
        practice_id,
        refused.reason,
        refused.status_code,
        refused.phone,
        address,
    )
    flood = ratelimit.hit("lead-refusal-log", REFUSAL_LOG_LIMIT, f"{practice_id}:{refused.reason}")
    if flood is None:
        with session_scope() as session:
            guard.record_refusal(session, practice_id, refused, address, clock.now())
    body: dict[str, object] = {"error": str(refused), "reason": refused.reason}
    if refused.status_code == 422:
        body["field"] = "phone"
    if refused.retry_after_s is not None:
        body["retry_after"] = refused.retry_after_s
    response = jsonify(body)
    if refused.retry_after_s is not None:
        response.headers["Retry-After"] = str(refused.retry_after_s)
    return response, refused.status_code


@bp.post("/leads")
def create_lead() -> tuple[Response, int]:
    """Accept a lead; the same Idempotency-Key answers the first result and creates nothing."""
    raw = request.get_data(cache=True)
    key = request.headers.get("Idempotency-Key")
    address = request.remote_addr or ""
    try:
        with session_scope() as session:
            secret = _api_key()
            practice = services.practice_for_key(session, secret)
            practice_id = practice.id
            data = parsing.json_body(raw)  # only for a known key: parsing costs
            screen = ApiScreen(
                guard.guard_settings(session, practice_id),
                practice_id,
                services.request_digest((secret or "").strip())[:32],
                address,
            )
            accepted = accept_lead(session, practice, key, raw, data, clock.now(), screen)
            schedule_follow_up(session, practice_id, accepted)
    except guard.LeadRefused as refused:
        return _refused(practice_id, refused, address)
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
