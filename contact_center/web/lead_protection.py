"""The lead form's protection, for a practice's admins: its rules, surge alerts, refused leads.

A page (``/p/<id>/leads/protection``) to read and change the rules and acknowledge surges, and
the same data as JSON for scripts (``/p/<id>/api/leads/protection``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from contact_center import auth, clock
from contact_center.db import session_scope
from contact_center.errors import DomainError, InvalidInput
from contact_center.leads import guard
from contact_center.models import Role
from contact_center.web import queries
from contact_center.web.access import current_user, practice_view, role
from contact_center.webhooks import app_settings

bp = Blueprint("lead_protection", __name__, url_prefix="/p/<int:practice_id>")
ADMINS = {Role.ADMIN}


def _state(practice_id: int) -> dict[str, Any]:
    with session_scope() as s:
        rules = guard.guard_settings(s, practice_id)
        surges = [
            {
                "id": surge.id,
                "detected_at": surge.detected_at.isoformat(),
                "leads_last_hour": surge.leads_last_hour,
                "baseline_per_hour": surge.baseline_per_hour,
                "manager_texted": surge.alert_message_id is not None,
            }
            for surge in guard.open_surges(s, practice_id)
        ]
        refused = [
            {
                "at": row.at.isoformat(),
                "reason": row.reason,
                "status": row.status_code,
                "phone": row.phone,
                "client_address": row.client_address,
                "detail": row.detail,
            }
            for row in guard.refused_leads(s, practice_id, limit=100)
        ]
    return {
        "rules": {
            "allowed_countries": sorted(rules.allowed_countries),
            "per_key_limit": rules.per_key_limit,
            "per_address_limit": rules.per_address_limit,
            "per_destination_limit": rules.per_destination_limit,
            "surge_min_leads": rules.surge_min_leads,
            "surge_factor": rules.surge_factor,
        },
        "surges": surges,
        "refused": refused,
    }


@bp.get("/api/leads/protection")
@practice_view(ADMINS)
def protection_json(practice_id: int) -> Response:
    """The rules in force, open surge alerts, and the latest refused leads (newest first)."""
    return jsonify(_state(practice_id))


@bp.route("/leads/protection", methods=["GET", "POST"])
@practice_view(ADMINS)
def protection(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    error: DomainError | None = None
    if request.method == "POST":
        form = request.form
        try:
            with session_scope() as s:
                guard.set_guard_settings(
                    s,
                    practice_id,
                    allowed_countries=form.get("allowed_countries", ""),
                    per_key_limit=form.get("per_key_limit", ""),
                    per_address_limit=form.get("per_address_limit", ""),
                    per_destination_limit=form.get("per_destination_limit", ""),
                    surge_min_leads=_whole(form.get("surge_min_leads", ""), "surge_min_leads"),
                    surge_factor=_whole(form.get("surge_factor", ""), "surge_factor"),
                )
        except DomainError as exc:
            error = exc
        else:
            return redirect(url_for("lead_protection.protection", practice_id=practice_id, saved=1))
    user = current_user()
    assert user is not None
    with session_scope() as s:
        practice = queries.practice(s, practice_id)
        memberships = auth.member_practices(s, user.id)
    page = render_template(
        "lead_protection.html",
        practice=practice,
        practice_id=practice_id,
        memberships=memberships,
        role=role(),
        sandbox=app_settings().sandbox,
        error=error,
        saved=request.args.get("saved") == "1",
        form=request.form,
        **_state(practice_id),
    )
    return (page, 422) if error else page


@bp.post("/leads/protection/acknowledge")
@practice_view(ADMINS)
def acknowledge_surges(practice_id: int) -> BaseResponse:
    """The admin has seen the open surge alerts."""
    with session_scope() as s:
        guard.acknowledge_surges(s, practice_id, clock.now())
    return redirect(url_for("lead_protection.protection", practice_id=practice_id))


def _whole(raw: str, field: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise InvalidInput(f"{field.replace('_', ' ')} must be a whole number", field)
    return int(text)
