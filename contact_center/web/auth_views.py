"""Login, logout, and the landing redirect to the user's first practice."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from contact_center import auth
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
    email = request.form.get("email", "")
    with session_scope() as s:
        user = auth.authenticate(s, email, request.form.get("password", ""))
        if user is not None:
            log_in(s, user)
    if user is None:
        logger.info("failed console login for %r from %s", email[:80], request.remote_addr)
        return render_template(
            "login.html",
            email=email,
            error="That email and password do not match.",
            demo=_demo_logins(),
            demo_password=demo_data.DEMO_PASSWORD,
        ), 401
    return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))


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
