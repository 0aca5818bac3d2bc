"""Console test helpers: logins, a logged-in test client, a live server, headless Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from contact_center import auth
from contact_center.db import utcnow
from contact_center.models import Practice, Role, User
from routing import services as routing

PASSWORD = "correct-horse-battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def make_login(
    session: Session, practice: Practice, identity: str, role: Role = Role.COORDINATOR
) -> User:
    user = auth.create_login(
        session,
        practice,
        name=identity.title() + " Tester",
        identity=identity,
        email=f"{identity}@example.test",
        role=role,
        password=PASSWORD,
        now=utcnow(),
    )
    routing.presence_of(session, user.id, utcnow())
    session.flush()
    return user


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> str:
    """Log the client in; returns the session's CSRF token for later unsafe requests."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    home = client.get("/", follow_redirects=True)
    return csrf_from(home.get_data(as_text=True))


@pytest.fixture
def live_server(app: Flask, session: Session) -> Iterator[str]:
    """The app under a real threaded HTTP server on 127.0.0.1 (use with the committed marker)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
