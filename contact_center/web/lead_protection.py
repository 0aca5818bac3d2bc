"""The lead form's protection, for a practice's admins: its rules, refused leads, lead surges."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from contact_center import clock
from contact_center.db import session_scope
from contact_center.leads import guard
from contact_center.models import Role
from contact_center.web.access import practice_view

bp = Blueprint("lead_protection", __name__, url_prefix="/p/<int:practice_id>/api/leads")


@bp.get("/protection")
@practice_view({Role.ADMIN})
def protection(practice_id: int) -> Response:
    """The rules in force, open surge alerts, and the latest refused leads (newest first)."""
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
    return jsonify(
        rules={
            "allowed_countries": sorted(rules.allowed_countries),
            "per_key_limit": rules.per_key_limit,
            "per_address_limit": rules.per_address_limit,
            "per_destination_limit": rules.per_destination_limit,
            "surge_min_leads": rules.surge_min_leads,
            "surge_factor": rules.surge_factor,
        },
        surges=surges,
        refused=refused,
    )


@bp.post("/surges/acknowledge")
@practice_view({Role.ADMIN})
def acknowledge_surges(practice_id: int) -> Response:
    """The admin has seen the open surge alerts."""
    with session_scope() as s:
        count = guard.acknowledge_surges(s, practice_id, clock.now())
    return jsonify(acknowledged=count)
