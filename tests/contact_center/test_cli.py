"""Admin CLI: onboarding without touching the database by hand."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center.models import Membership, Practice, User
from routing.models import Presence, PresenceState


def run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_practice_create_list_and_coordinators(app: Flask, session: Session) -> None:
    code, out = run(
        app,
        "practice",
        "create",
        "--name",
        "Lumen Dermatology",
        "--number",
        "(212) 555-0188",
        "--timezone",
        "America/New_York",
        "--hours",
        "mon-fri 08:00-17:00, sat 09:00-12:00",
        "--consent-mode",
        "one_party",
    )
    assert code == 0, out
    practice = session.scalars(select(Practice).where(Practice.name == "Lumen Dermatology")).one()
    assert practice.phone_number == "+12125550188"
    assert practice.hours_spec == "mon-fri 08:00-17:00, sat 09:00-12:00"
    assert practice.consent_mode.value == "one_party"

    code, out = run(app, "practice", "list")
    assert code == 0 and "Lumen Dermatology\t+12125550188\tAmerica/New_York\tone_party" in out

    code, out = run(
        app,
        "coordinator",
        "create",
        "--practice",
        "Lumen Dermatology",
        "--name",
        "Chloe Park",
        "--identity",
        "chloe",
    )
    assert code == 0, out
    user = session.scalars(select(User).where(User.identity == "chloe")).one()
    membership = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    assert membership.practice_id == practice.id and membership.role.value == "coordinator"
    assert session.get_one(Presence, user.id).state is PresenceState.OFFLINE

    assert run(app, "coordinator", "presence", "chloe", "available")[0] == 0
    session.expire_all()
    presence = session.get_one(Presence, user.id)
    assert presence.state is PresenceState.AVAILABLE and presence.idle_since is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--number", "12345"], "error: '12345' is not a valid phone number"),
        (["--timezone", "Mars/Base"], "error: unknown time zone 'Mars/Base'"),
        (["--hours", "weekdays 9 to 5"], "error: cannot read hours 'weekdays 9 to 5'"),
        (["--hours", "mon 17:00-09:00"], "error: closing time must be after opening time"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2_writing_nothing(
    app: Flask, session: Session, args: list[str], message: str
) -> None:
    base = {
        "--name": "Bad Practice",
        "--number": "+13105550177",
        "--timezone": "America/Los_Angeles",
        "--hours": "mon-fri 09:00-17:00",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, out = run(app, "practice", "create", *[x for kv in base.items() for x in kv])
    assert code == 2
    assert out.strip().startswith(message) and len(out.strip().splitlines()) == 1, out
    assert session.scalar(select(func.count()).select_from(Practice)) == 0


def test_coordinator_errors(app: Flask, session: Session) -> None:
    code, out = run(
        app, "coordinator", "create", "--practice", "Nowhere", "--name", "X", "--identity", "x"
    )
    assert (code, out.strip()) == (2, "error: no practice named 'Nowhere'")
    code, out = run(app, "coordinator", "presence", "ghost", "available")
    assert (code, out.strip()) == (2, "error: no coordinator with identity 'ghost'")
    assert run(app, "coordinator", "presence", "ghost", "dancing")[0] == 2
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_seed_demo_is_idempotent(app: Flask, session: Session) -> None:
    assert run(app, "seed-demo") == (0, "demo practice created: Glow Aesthetics +14155550100\n")
    assert run(app, "seed-demo") == (
        0,
        "demo practice already present: Glow Aesthetics +14155550100\n",
    )
    assert session.scalar(select(func.count()).select_from(Practice)) == 1
    # Two coordinators, plus the demo's QA lead and admin logins.
    assert session.scalar(select(func.count()).select_from(Membership)) == 4
