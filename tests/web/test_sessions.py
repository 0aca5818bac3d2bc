"""Ending sessions: logout, a password change and deactivation end them, copied cookies too."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.models import LoginSession, User
from tests.factories import make_practice
from tests.web.conftest import log_in, make_login

COOKIE = "session"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie (a stolen cookie)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def console_ok(client: FlaskClient, practice_id: int) -> bool:
    response = client.get(f"/p/{practice_id}/api/wallboard")
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


def test_logout_ends_the_session_for_a_copied_cookie_too(app: Flask, session: Session) -> None:
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    browser = app.test_client()
    csrf = log_in(browser, ava.email or "")
    thief = copy_of(app, browser)
    assert console_ok(thief, practice.id)
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert not console_ok(browser, practice.id)
    assert not console_ok(thief, practice.id)
    assert thief.get(f"/p/{practice.id}/console").status_code == 302  # back to the login page
    ended = session.scalars(select(LoginSession).where(LoginSession.user_id == ava.id)).one()
    assert ended.ended_at is not None


def test_logging_out_ends_only_that_session(app: Flask, session: Session) -> None:
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    desk, tablet = app.test_client(), app.test_client()
    csrf = log_in(desk, ava.email or "")
    log_in(tablet, ava.email or "")
    desk.post("/logout", data={"csrf_token": csrf})
    assert not console_ok(desk, practice.id)
    assert console_ok(tablet, practice.id)


def test_a_password_change_ends_every_session(app: Flask, session: Session) -> None:
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    browser = app.test_client()
    log_in(browser, ava.email or "")
    thief = copy_of(app, browser)
    assert console_ok(thief, practice.id)
    runner = app.test_cli_runner()
    changed = runner.invoke(
        args=["user", "set-password", ava.email or "", "--password", "brand-new-password"]
    )
    assert changed.exit_code == 0, changed.output
    assert not console_ok(thief, practice.id)
    assert not console_ok(browser, practice.id)
    fresh = app.test_client()
    log_in(fresh, ava.email or "", "brand-new-password")
    assert console_ok(fresh, practice.id)


def test_deactivating_a_user_ends_their_sessions_and_logins(app: Flask, session: Session) -> None:
    practice = make_practice(session)
    ava = make_login(session, practice, "ava")
    browser = app.test_client()
    log_in(browser, ava.email or "")
    thief = copy_of(app, browser)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["user", "deactivate", ava.email or ""])
    assert done.exit_code == 0, done.output
    session.expire_all()
    assert session.get_one(User, ava.id).deactivated_at is not None
    assert not console_ok(thief, practice.id)
    assert not console_ok(browser, practice.id)
    again = app.test_client()
    page = again.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    refused = again.post(
        "/login",
        data={"email": ava.email, "password": "correct-horse-battery", "csrf_token": token},
    )
    assert refused.status_code == 401
    assert runner.invoke(args=["user", "activate", ava.email or ""]).exit_code == 0
    log_in(again, ava.email or "")
    assert console_ok(again, practice.id)
