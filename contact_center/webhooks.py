"""The Flask side of Twilio webhooks: signature check, TwiML responses, voice-view safety net."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from flask import Response, current_app, request
from sqlalchemy.exc import DBAPIError
from twilio.twiml.messaging_response import MessagingResponse

from contact_center import voice
from contact_center.settings import Settings
from contact_center.twilio import clean_text, render, signature_valid

logger = logging.getLogger(__name__)
P = ParamSpec("P")
# Marks a view that answers valid TwiML whatever happens (tests walk the URL map for it).
ALWAYS_TWIML = "_always_twiml"


def app_settings() -> Settings:
    settings: Settings = current_app.extensions["contact_center.settings"]
    return settings


def public_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path + query (never the Host header)."""
    query = request.query_string.decode("latin-1")
    return app_settings().public_base_url + request.path + (f"?{query}" if query else "")


def twilio_signed(view: Callable[P, Any]) -> Callable[P, Any]:
    """403, and no side effect, unless X-Twilio-Signature is Twilio's signature of this request
    and the request is for this deployment's Twilio account (``AccountSid``).

    The app's MAX_CONTENT_LENGTH refuses an oversized body (413) before the form is read here.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        settings = app_settings()
        if not signature_valid(
            settings.twilio_auth_token,
            public_url(),
            request.form,
            request.headers.get("X-Twilio-Signature"),
        ):
            logger.warning(
                "rejected unsigned or forged webhook path=%s call_sid=%s",
                request.path,
                request.form.get("CallSid", "-"),
            )
            return Response("invalid Twilio signature\n", status=403, mimetype="text/plain")
        if request.form.get("AccountSid") != settings.twilio_account_sid:
            # Signed, but for another Twilio account (a shared auth token, a misrouted number).
            logger.warning(
                "rejected webhook for another account path=%s account_sid=%s call_sid=%s",
                request.path,
                request.form.get("AccountSid", "-")[:40],
                request.form.get("CallSid", "-"),
            )
            return Response("unknown AccountSid\n", status=403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapper


def twiml(script: voice.Script) -> Response:
    return Response(render(script, app_settings().public_base_url), mimetype="text/xml")


def messaging_twiml(reply: str | None) -> Response:
    """A messaging webhook's answer: one ``<Message>`` with ``reply``, or nothing."""
    response = MessagingResponse()
    if reply:
        response.message(clean_text(reply))
    return Response(str(response), mimetype="text/xml")


def voice_webhook(
    fallback: Callable[[], voice.Script],
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """A voice view never answers Twilio with a 500: on any error the caller hears ``fallback``.

    A pooled database connection found dead (the pool pings only idle ones) is not an error the
    caller should hear: the view runs once more, on a fresh connection. Voice views are
    idempotent, as Twilio's own retries need, so running one twice is safe.
    """

    def decorate(view: Callable[P, Any]) -> Callable[P, Any]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                try:
                    return view(*args, **kwargs)
                except DBAPIError as error:
                    if not error.connection_invalidated:
                        raise
                    logger.warning(
                        "database connection lost, running the webhook again path=%s call_sid=%s",
                        request.path,
                        request.form.get("CallSid", "-"),
                    )
                    return view(*args, **kwargs)
            except Exception:
                logger.exception(
                    "voice webhook failed path=%s call_sid=%s",
                    request.path,
                    request.form.get("CallSid", "-"),
                )
                return twiml(fallback())

        setattr(wrapper, ALWAYS_TWIML, True)
        return wrapper

    return decorate
