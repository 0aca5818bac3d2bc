"""``flask user create|set-password``."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from contact_center import auth
from tests.factories import make_practice


def test_user_create_and_set_password(app: Flask, session: Session) -> None:
    make_practice(session, name="Glow Aesthetics")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--practice",
            "Glow Aesthetics",
            "--name",
            "Quinn Lee",
            "--identity",
            "quinn",
            "--email",
            "Quinn@Example.test",
            "--role",
            "qa_lead",
            "--password",
            "first-password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "quinn@example.test can log in as qa_lead of Glow Aesthetics" in result.output
    assert auth.authenticate(session, "quinn@example.test", "first-password") is not None
    changed = runner.invoke(
        args=["user", "set-password", "quinn@example.test", "--password", "second-password"]
    )
    assert changed.exit_code == 0, changed.output
    assert auth.authenticate(session, "quinn@example.test", "first-password") is None
    assert auth.authenticate(session, "quinn@example.test", "second-password") is not None
    short = runner.invoke(args=["user", "set-password", "quinn@example.test", "--password", "x"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output
