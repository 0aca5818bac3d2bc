"""Contact center for aesthetic practices: the app factory.

Nothing happens at import time; ``create_app`` reads settings, configures the database and
registers every feature's blueprints and commands.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify

from contact_center.errors import DomainError, Forbidden, InvalidInput, NotFound
from contact_center.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app. Tests pass their own ``settings``; otherwise read the environment."""
    from contact_center import cli, db, runtime

    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.env == "test")
    app.extensions["contact_center.settings"] = settings
    runtime.install(settings)
    db.configure(settings.database_url)

    from appointments.views import bp as appointments_feed_bp
    from ivr.views import bp as voice_bp
    from recordings.views import bp as recordings_bp

    app.register_blueprint(voice_bp)
    app.register_blueprint(recordings_bp)
    app.register_blueprint(appointments_feed_bp)
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

    return app


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
