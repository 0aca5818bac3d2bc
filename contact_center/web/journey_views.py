"""The patient's follow-up journeys in the console: every step run, sent or skipped and why."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint

from contact_center.db import session_scope
from contact_center.errors import NotFound
from contact_center.models import Patient
from contact_center.web import queries
from contact_center.web.access import practice_view
from contact_center.web.appointment_views import COORDINATING, render_page
from journeys import services as journeys

bp = Blueprint("journeys_console", __name__, url_prefix="/p/<int:practice_id>")


@bp.get("/patients/<int:patient_id>/journeys")
@practice_view(COORDINATING)
def patient_journeys(practice_id: int, patient_id: int) -> str:
    with session_scope() as s:
        patient = s.get(Patient, patient_id)
        if patient is None or patient.practice_id != practice_id:
            raise NotFound("no such patient")
        zone = ZoneInfo(queries.practice(s, practice_id).timezone)
        rows = [
            {
                "due": run.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "journey": run.step.journey.name,
                "action": run.step.action.value.replace("_", " "),
                "state": run.state.value,
                "what": journeys.describe(run),
            }
            for run in journeys.runs_for_patient(s, practice_id, patient_id)
        ]
        name = queries.patient_name(patient) or patient.phone
    return render_page(
        "journeys.html", practice_id, patient_id=patient_id, patient_name=name, rows=rows
    )
