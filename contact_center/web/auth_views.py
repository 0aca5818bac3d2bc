"""Login, logout, and the landing redirect to the user's first practice."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from contact_center import auth, parsing, ratelimit
from contact_center.db import session_scope
from contact_center.models import Role
from contact_center.web import demo_data
from contact_center.web.access import current_user, log_in, log_out, login_view, safe_next
from contact_center.webhooks import app_settings

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    Role.COORDINATOR: "pages.console",
    Role.QA_LEAD: "pages.qa_calls",
    Role.ADMIN: "pages.wallboard",
}


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    if request.method == "GET":
        return render_template(
            "login.html",
            email="",
            error=None,
            demo=_demo_logins(),
            demo_password=demo_data.DEMO_PASSWORD,
        )
    email = parsing.line(request.form.get("email"), 254)
    throttled = _throttled(email)
    if throttled is not None:
        logger.warning(
            "console login throttled (%s) for %r from %s",
            throttled.scope,
            email[:80],
            request.remote_addr,
        )
        return _login_page(email, _try_again(throttled), 429)
    with session_scope() as s:
        user = auth.authenticate(s, email, parsing.text(request.form.get("password"), 1024))
        if user is not None:
            log_in(s, user)
    if user is None:
        logger.info("failed console login for %r from %s", email[:80], request.remote_addr)
        _count_failure(email)
        return _login_page(email, "That email and password do not match.", 401)
    return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))


def _login_page(email: str, error: str, status: int) -> tuple[str, int]:
    return render_template(
        "login.html",
        email=email,
        error=error,
        demo=_demo_logins(),
        demo_password=demo_data.DEMO_PASSWORD,
    ), status


# Failed logins are counted per account (the email as typed, so an unknown address is throttled
# exactly like a real one and reveals nothing) and per client address. While either is used up,
# no password is checked at all, the right one included.
def _login_keys(email: str) -> tuple[tuple[str, str, str], ...]:
    settings = app_settings()
    account = " ".join(email.split()).lower()[:254] or "-"
    return (
        ("login-account", settings.login_limit_per_account, account),
        ("login-address", settings.login_limit_per_address, request.remote_addr or "-"),
    )


def _throttled(email: str) -> ratelimit.Exceeded | None:
    for scope, limit, key in _login_keys(email):
        over = ratelimit.over(scope, limit, key)
        if over is not None:
            return over
    return None


def _count_failure(email: str) -> None:
    for scope, limit, key in _login_keys(email):
        ratelimit.hit(scope, limit, key)


def _try_again(over: ratelimit.Exceeded) -> str:
    unit = "minute" if over.minutes == 1 else "minutes"
    return f"Too many attempts, try again in {over.minutes} {unit}."


def _demo_logins() -> list[tuple[str, str]]:
    """In sandbox mode, the demo practice's logins (if seeded) are shown on the login page."""
    if not app_settings().sandbox:
        return []
    with session_scope() as s:
        return [
            (email, role.value.replace("_", " "))
            for _name, _identity, email, role in demo_data.DEMO_LOGINS
            if auth.user_by_email(s, email) is not None
        ]


@bp.post("/logout")
def logout() -> BaseResponse:
    log_out()
    return redirect(url_for("auth.login"))


@bp.get("/")
@login_view
def home() -> BaseResponse | str:
    user = current_user()
    assert user is not None
    with session_scope() as s:
        memberships = auth.member_practices(s, user.id)
    if not memberships:
        return render_template("no_practice.html")
    practice, role = memberships[0]
    return redirect(url_for(HOME_BY_ROLE[role], practice_id=practice.id))
