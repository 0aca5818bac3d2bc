"""The admin's appointment settings: services, providers (with their feed URLs) and the
practice's CalDAV calendar. The password is encrypted before it is stored and never shown."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from appointments import caldav_sync, catalog
from appointments.jobs import sync_busy
from contact_center.db import session_scope
from contact_center.errors import DomainError, InvalidInput
from contact_center.jobs import DEFAULT, after_commit
from contact_center.models import Role
from contact_center.web.access import practice_view
from contact_center.web.appointment_views import render_page
from contact_center.webhooks import app_settings

bp = Blueprint("appointment_settings", __name__, url_prefix="/p/<int:practice_id>/settings")

ADMIN = {Role.ADMIN}


def _text(name: str, limit: int = 500) -> str:
    return request.form.get(name, "").replace("\x00", "")[:limit]


def _settings_page(
    practice_id: int, error: DomainError | None = None, form_name: str = ""
) -> str | tuple[str, int]:
    with session_scope() as s:
        offered = catalog.services_of(s, practice_id)
        providers = catalog.providers_of(s, practice_id)
        connection = caldav_sync.connection_of(s, practice_id)
        context: dict[str, Any] = {
            "services": [(sv.name, sv.duration_minutes, sv.kind.label) for sv in offered],
            "providers": [
                (p.name, p.hours_spec or "the practice's hours", p.feed_token) for p in providers
            ],
            "connection": None
            if connection is None
            else {
                "url": connection.url,
                "username": connection.username,
                "calendar_path": connection.calendar_path,
                "busy_synced_at": connection.busy_synced_at,
                "last_error": connection.last_error,
            },
        }
    page = render_page(
        "appointment_settings.html",
        practice_id,
        error=error,
        error_form=form_name,
        form=request.form,
        saved=request.args.get("saved") == "1",
        public_base_url=app_settings().public_base_url.rstrip("/"),
        **context,
    )
    return (page, 422) if error else page


def _done(practice_id: int, anchor: str) -> BaseResponse:
    target = url_for("appointment_settings.show", practice_id=practice_id, saved=1)
    return redirect(f"{target}#{anchor}")


@bp.get("/appointments")
@practice_view(ADMIN)
def show(practice_id: int) -> str | tuple[str, int]:
    return _settings_page(practice_id)


@bp.post("/appointments/services")
@practice_view(ADMIN)
def add_service(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    minutes = _text("minutes", 4).strip()
    try:
        if not minutes.isascii() or not minutes.isdigit():
            raise InvalidInput("minutes must be a whole number", "minutes")
        with session_scope() as s:
            catalog.add_service(s, practice_id, _text("name", 120), int(minutes), _text("kind", 20))
    except DomainError as error:
        return _settings_page(practice_id, error, "services")
    return _done(practice_id, "services")


@bp.post("/appointments/providers")
@practice_view(ADMIN)
def add_provider(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    try:
        with session_scope() as s:
            catalog.add_provider(s, practice_id, _text("name", 120), _text("hours") or None)
    except DomainError as error:
        return _settings_page(practice_id, error, "providers")
    return _done(practice_id, "providers")


@bp.post("/appointments/calendar")
@practice_view(ADMIN)
def connect(practice_id: int) -> BaseResponse | str | tuple[str, int]:
    """Save the calendar (a blank password keeps the stored one); its busy times are read by
    a job right after, and the page shows whether that worked."""
    password = _text("password", 500)
    try:
        with session_scope() as s:
            caldav_sync.connect_calendar(
                s,
                practice_id,
                _text("url"),
                _text("username", 200),
                password or None,
                _text("calendar_path"),
                app_settings().recordings_key,
            )
            # Busy times are read once the connection is saved (the busy-time sync retries).
            after_commit(
                s, sync_busy, practice_id, queue=DEFAULT, job_id=f"calendar-busy-{practice_id}"
            )
    except DomainError as error:
        return _settings_page(practice_id, error, "calendar")
    return _done(practice_id, "calendar")


@bp.post("/appointments/calendar/disconnect")
@practice_view(ADMIN)
def disconnect(practice_id: int) -> BaseResponse:
    with session_scope() as s:
        caldav_sync.disconnect_calendar(s, practice_id)
    return _done(practice_id, "calendar")
