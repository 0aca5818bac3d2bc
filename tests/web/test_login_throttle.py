"""Login throttle: per account and per client address, with a clear message."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from tests.factories import make_practice
from tests.web.conftest import PASSWORD, csrf_from, make_login

THROTTLED = "Too many attempts, try again in"


def attempt(
    client: FlaskClient, email: str, password: str, address: str = "198.51.100.9"
) -> tuple[int, str]:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code, response.get_data(as_text=True)


def test_300_wrong_passwords_then_the_right_one_is_still_refused(
    app: Flask, session: Session, redis: Redis
) -> None:
    ava = make_login(session, make_practice(session), "ava")
    client = app.test_client()
    statuses = [attempt(client, ava.email or "", f"wrong-{n}")[0] for n in range(300)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    status, page = attempt(client, ava.email or "", PASSWORD)
    assert status == 429 and f"{THROTTLED} 15 minutes." in page
    assert client.get("/").status_code == 302  # not logged in
    # Another address gets the same answer for this account: the throttle is per account too.
    status, page = attempt(app.test_client(), ava.email or "", PASSWORD, "203.0.113.50")
    assert status == 429 and THROTTLED in page


def test_an_unknown_account_is_throttled_exactly_like_a_real_one(
    app: Flask, session: Session, redis: Redis
) -> None:
    make_login(session, make_practice(session), "ava")
    client = app.test_client()
    statuses = [attempt(client, "nobody@example.test", f"wrong-{n}")[0] for n in range(11)]
    assert statuses == [401] * 10 + [429]


def test_one_address_is_throttled_across_accounts_and_others_still_log_in(
    app: Flask, session: Session, redis: Redis
) -> None:
    practice = make_practice(session)
    ava, ben = make_login(session, practice, "ava"), make_login(session, practice, "ben")
    client = app.test_client()
    statuses = [attempt(client, f"user{n}@example.test", "wrong-password")[0] for n in range(51)]
    assert statuses == [401] * 50 + [429]
    status, page = attempt(client, ava.email or "", PASSWORD)
    assert status == 429 and THROTTLED in page
    status, _ = attempt(app.test_client(), ben.email or "", PASSWORD, "192.0.2.10")
    assert status == 302  # another office, another account: logged in
