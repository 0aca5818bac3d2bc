"""Who is asking, and may they: the logged-in user, CSRF, and the per-practice role check.

Every console view is wrapped in ``practice_view(roles)`` (or ``login_view`` for the few
routes that show no practice data). The wrapper loads the membership of the user at the
``practice_id`` in the URL before the view runs: not a member gives 404, a member without the
role 403. Views then look objects up *within* that practice, so an id from another practice
is 404 too. Unsafe methods need the session's CSRF token (form field or X-CSRF-Token header).

Inside a practice, every route that reads or changes one call (its page, recording, transcript,
outcome, screen pop) loads it with ``call_for`` (or checks it with ``require_call``): the call
must be in the practice (404) and the user allowed by the one call rule,
``auth.may_handle_call`` (403).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from contact_center import auth, clock
from contact_center.db import session_scope
from contact_center.errors import NotFound
from contact_center.models import Role, User
from ivr.models import Call
from qa.audit import on_call

SESSION_USER = "uid"
SESSION_TOKEN = "sid"  # names the LoginSession row; ending that row ends this cookie
SESSION_CSRF = "csrf"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Paths whose callers are not browsers with our session (Twilio signs its webhooks instead).
CSRF_EXEMPT_PREFIXES = ("/twilio/",)

# The marker the cross-practice test looks for on every console view.
CHECKED = "_practice_checked"


@dataclass(frozen=True)
class CurrentUser:
    id: int
    name: str
    identity: str
    email: str | None


def current_user() -> CurrentUser | None:
    return g.get("user")


def install(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.context_processor(_template_globals)


def _load_user() -> None:
    """The user of a live login session. The signed cookie alone is not enough: the session it
    names must not have ended (logout, password change, deactivation) or expired."""
    g.user = None
    uid, token = session.get(SESSION_USER), session.get(SESSION_TOKEN)
    if not isinstance(uid, int):
        return
    user = None
    if isinstance(token, str) and token:
        with session_scope() as s:
            user = auth.session_user(s, uid, token, clock.now())
            if user is not None:
                g.user = CurrentUser(user.id, user.name, user.identity, user.email)
    if user is None:
        session.clear()  # an ended session: the browser forgets it and logs in again


def csrf_token() -> str:
    token = session.get(SESSION_CSRF)
    if not token:
        token = auth.new_csrf_token()
        session[SESSION_CSRF] = token
    return str(token)


def _check_csrf() -> Response | tuple[Response, int] | None:
    if request.method not in UNSAFE or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return None
    if SESSION_USER not in session and request.path != "/login":
        return None  # no session, no ambient authority to abuse (API-key clients, webhooks)
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if auth.csrf_valid(session.get(SESSION_CSRF), given):
        return None
    return jsonify(error="missing or invalid CSRF token; reload the page"), 400


def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "current_user": current_user()}


def log_in(s: Session, user: User) -> None:
    """Start a login session for the user (in the caller's transaction) and set the cookie."""
    end_current_session(s)
    session.clear()  # a fresh session on login: no fixation of an earlier one
    lifetime = current_app.permanent_session_lifetime
    session[SESSION_USER] = user.id
    session[SESSION_TOKEN] = auth.start_session(s, user, clock.now(), lifetime)
    session[SESSION_CSRF] = auth.new_csrf_token()
    session.permanent = True


def end_current_session(s: Session) -> None:
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str) and token:
        auth.end_session(s, token, clock.now())


def log_out() -> None:
    """End this login session for good: a copy of the cookie stops working too."""
    with session_scope() as s:
        end_current_session(s)
    session.clear()


def wants_json() -> bool:
    return (
        "/api/" in request.path
        or request.path.endswith("/events")
        or (request.accept_mimetypes.best == "application/json")
    )


def _login_needed() -> BaseResponse | tuple[Response, int]:
    if wants_json():
        return jsonify(error="log in first"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths may be redirected to after login."""
    if not target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target) or target.startswith("/\\"):
        return None  # a header split, or "/\\host" that browsers read as "//host"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def login_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """A route that needs a login but shows no practice's data."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _login_needed()
        return view(*args, **kwargs)

    setattr(wrapper, CHECKED, "login")
    return wrapper


def practice_view(
    roles: Iterable[Role] = auth.ALL_ROLES,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A route under ``/p/<practice_id>/``: the user must hold one of ``roles`` there."""
    allowed = frozenset(roles)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, practice_id: int, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _login_needed()
            with session_scope() as s:
                g.role = auth.require_role(s, user.id, practice_id, allowed)
            g.practice_id = practice_id
            return view(*args, practice_id=practice_id, **kwargs)

        setattr(wrapper, CHECKED, "practice")
        return wrapper

    return decorate


def require_call(s: Session, call: Call) -> Call:
    """The call if the logged-in user may see and change it (the call rule), else Forbidden."""
    user = current_user()
    assert user is not None  # behind practice_view
    auth.require_call_access(s, user.id, call.practice_id, on_call(call))
    return call


def call_for(s: Session, practice_id: int, call_id: int) -> Call:
    """A call of this practice the user may handle: NotFound outside it, Forbidden by the rule."""
    call = s.get(Call, call_id)
    if call is None or call.practice_id != practice_id:
        raise NotFound("no such call")
    return require_call(s, call)


def require_callback_leg(s: Session, practice_id: int, coordinator_id: int | None) -> None:
    """A callback's coordinator leg: the same rule, with the attempt's coordinator on the call."""
    user = current_user()
    assert user is not None
    auth.require_call_access(s, user.id, practice_id, (coordinator_id,))


def role() -> Role:
    value: Role = g.role
    return value
