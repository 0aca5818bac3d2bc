"""The coordinator console: login, pages, JSON endpoints, live events, softphone, sandbox.

``register(app)`` is called by ``create_app``. Every console route lives under
``/p/<practice_id>/`` and checks the user's membership and role at that practice before it
reads anything (see ``access.py``); the only exceptions are the login pages and ``/``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask

from contact_center.settings import Settings


def practice_time(at: datetime | None, zone: str, fmt: str = "%b %-d, %-I:%M %p") -> str:
    """A stored (UTC) time as the practice's wall clock: the console shows every time in the
    practice's zone, never UTC, whatever the coordinator's computer is set to. Jinja filter
    ``practice_time``: ``{{ m.created_at|practice_time(practice.timezone) }}``."""
    if at is None:
        return ""
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).strftime(fmt)


def register(app: Flask, settings: Settings) -> None:
    from contact_center.web import (
        access,
        api,
        appointment_settings,
        appointment_views,
        auth_views,
        events,
        headers,
        journey_views,
        lead_protection,
        pages,
        sandbox,
    )

    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    app.add_template_filter(practice_time, "practice_time")
    access.install(app)
    headers.install(app)
    blueprints = [auth_views.bp, pages.bp, api.bp, events.bp, sandbox.bp, lead_protection.bp]
    blueprints += [appointment_views.bp, appointment_settings.bp]
    blueprints += [journey_views.bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
