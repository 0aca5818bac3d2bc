"""Contact center for aesthetic practices: the app factory.

Nothing happens at import time; ``create_app`` reads settings, configures the database and
registers every feature's blueprints and commands.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from contact_center.errors import DomainError, Forbidden, InvalidInput, NotFound
from contact_center.parsing import IdConverter
from contact_center.settings import Settings

MAX_REQUEST_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app. Tests pass their own ``settings``; otherwise read the environment."""
    from contact_center import cli, db, jobs, ratelimit, runtime

    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = Flask(__name__)
    app.request_class = JsonSafeRequest
    # Before any rule is added: every <int:...> id in a URL fits PostgreSQL integer (else 404).
    app.url_map.converters["int"] = IdConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "test",
        # Every route: a larger body is refused with 413 before anything reads it (Twilio's
        # webhooks, web-form leads and console forms are a few kilobytes).
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
    )
    app.extensions["contact_center.settings"] = settings
    app.before_request(_refuse_large_bodies)  # first: before the login or signature checks
    runtime.install(settings)
    db.configure(settings.database_url)
    jobs.install_after_commit()
    ratelimit.install(app, settings)  # Flask-Limiter on the deployment's Redis

    from appointments.views import bp as appointments_feed_bp
    from ivr.views import bp as voice_bp
    from journeys.views import bp as journeys_public_bp
    from recordings.views import bp as recordings_bp

    app.register_blueprint(voice_bp)
    app.register_blueprint(recordings_bp)
    app.register_blueprint(appointments_feed_bp)
    app.register_blueprint(journeys_public_bp)  # the tracked review link
    from routing import views as routing_views

    routing_views.register(app)  # queue webhooks, presence JSON, after-commit routing jobs
    from contact_center.messaging.views import bp as sms_bp
    from ivr.reschedule_views import bp as reschedule_bp
    from ivr.sms_views import bp as sms_inbound_bp
    from routing.client_views import bp as client_bp
    from routing.dialer_views import bp as dialer_bp
    from routing.lead_views import bp as leads_bp

    app.register_blueprint(sms_inbound_bp)
    app.register_blueprint(reschedule_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(leads_bp)
    app.register_blueprint(dialer_bp)
    app.register_blueprint(client_bp)
    from contact_center import web

    web.register(app, settings)  # the console: templates/ and static/ of this package
    cli.register(app)
    _register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", sandbox=settings.sandbox)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        """No icon, said without an error: browsers ask on every page, and a 404 here was the
        one console error on every page of the console."""
        return Response(status=204)

    return app


class JsonSafeRequest(Request):
    """A JSON body nested too deeply for the parser is not JSON (None when silent, else 400),
    not a RecursionError and a 500."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise BadRequest("the JSON body is nested too deeply") from None


def _refuse_large_bodies() -> None:
    """A declared body over the limit is refused on every route, read or not (413)."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        raise RequestEntityTooLarge()


def _register_error_handlers(app: Flask) -> None:
    def as_json(status: int):  # type: ignore[no-untyped-def]
        def handler(error: DomainError) -> tuple[Response, int]:
            body: dict[str, str] = {"error": str(error)}
            if isinstance(error, InvalidInput) and error.field:
                body["field"] = error.field
            return jsonify(body), status

        return handler

    app.register_error_handler(InvalidInput, as_json(422))
    app.register_error_handler(NotFound, as_json(404))
    app.register_error_handler(Forbidden, as_json(403))
    app.register_error_handler(DomainError, as_json(400))
