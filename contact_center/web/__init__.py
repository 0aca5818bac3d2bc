"""The coordinator console: login, pages, JSON endpoints, live events, softphone, sandbox.

``register(app)`` is called by ``create_app``. Every console route lives under
``/p/<practice_id>/`` and checks the user's membership and role at that practice before it
reads anything (see ``access.py``); the only exceptions are the login pages and ``/``.
"""

from __future__ import annotations

from flask import Flask

from contact_center.settings import Settings


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
    access.install(app)
    headers.install(app)
    blueprints = [auth_views.bp, pages.bp, api.bp, events.bp, sandbox.bp, lead_protection.bp]
    blueprints += [appointment_views.bp, appointment_settings.bp]
    blueprints += [journey_views.bp]
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
