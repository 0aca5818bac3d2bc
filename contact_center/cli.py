"""Admin commands: ``flask --app wsgi practice|coordinator|seed-demo|db ...``.

This module is an entry point (loaded by ``create_app``), so it may call every feature.
Bad arguments print one line and exit with code 2, having written nothing.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from contact_center import clock, demo, practices
from contact_center.db import session_scope
from contact_center.errors import DomainError
from contact_center.models import ConsentMode
from routing import services as routing
from routing.models import PresenceState

MIGRATIONS = Path(__file__).parent / "migrations"


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


NO_SCHEMA = "error: the database has no schema yet: run flask --app wsgi db upgrade first"


def _schema_missing(exc: BaseException) -> bool:
    """True for the errors of a database that was never migrated (or is behind)."""
    orig = getattr(exc, "orig", exc)
    kind = type(orig).__name__
    text = str(orig)
    return kind in ("UndefinedTable", "UndefinedColumn") or text.startswith(
        ("no such table", "no such column")
    )


def require_schema(command: click.Command) -> click.Command:
    """Make ``command`` (a group: every subcommand) answer an unmigrated database with one
    line and exit code 2, instead of a traceback."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    invoke = command.invoke

    @functools.wraps(invoke)
    def guarded(ctx: click.Context) -> Any:
        try:
            return invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            if not _schema_missing(exc):
                raise
            click.echo(NO_SCHEMA, err=True)
            sys.exit(2)

    command.invoke = guarded  # type: ignore[method-assign]
    return command


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str, revision: str = "heads") -> None:
    """Create or migrate the schema (SQLite and PostgreSQL alike)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


db_cli = AppGroup("db", help="Database schema.")
practice_cli = AppGroup("practice", help="Onboard and list practices.")
coordinator_cli = AppGroup("coordinator", help="Coordinators and their presence.")


@db_cli.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the latest version."""
    from contact_center.runtime import current_settings

    upgrade_database(current_settings().database_url, revision)
    click.echo("database is up to date")


@practice_cli.command("create")
@click.option("--name", required=True)
@click.option("--number", required=True, help="The practice's Twilio number, e.g. +14155550100")
@click.option("--timezone", "zone", required=True, help="IANA zone, e.g. America/Los_Angeles")
@click.option("--hours", required=True, help='e.g. "mon-fri 09:00-18:00, sat 10:00-14:00"')
@click.option(
    "--consent-mode",
    type=click.Choice([m.value for m in ConsentMode]),
    default=ConsentMode.ALL_PARTY.value,
    show_default=True,
)
@click.option("--greeting", default=None, help="What callers hear first")
def practice_create(
    name: str, number: str, zone: str, hours: str, consent_mode: str, greeting: str | None
) -> None:
    """Create a practice."""
    with _one_line_errors(), session_scope() as session:
        practice = practices.create_practice(
            session,
            name=name,
            number=number,
            timezone=zone,
            hours=hours,
            consent_mode=consent_mode,
            greeting=greeting,
        )
        click.echo(f"created practice {practice.id}: {practice.name} {practice.phone_number}")


@practice_cli.command("list")
def practice_list() -> None:
    """List practices."""
    with session_scope() as session:
        rows = practices.list_practices(session)
        if not rows:
            click.echo("no practices yet")
        for p in rows:
            click.echo(
                f"{p.id}\t{p.name}\t{p.phone_number}\t{p.timezone}\t{p.consent_mode.value}\t"
                f"{p.hours_spec}"
            )


@practice_cli.command("api-key")
@click.option("--practice", "practice_name", required=True)
@click.option("--label", default="", help="Where the key is used, e.g. website")
def practice_api_key(practice_name: str, label: str) -> None:
    """Create a key for POST /api/leads (printed once; only its hash is stored)."""
    from contact_center.leads.services import create_api_key

    with _one_line_errors(), session_scope() as session:
        practice = practices.practice_by_name(session, practice_name)
        click.echo(create_api_key(session, practice, clock.now(), label=label))


@practice_cli.command("lead-guard")
@click.option("--practice", "practice_name", required=True)
@click.option("--countries", default=None, help="Where lead numbers may be, e.g. US,CA")
@click.option("--per-key", default=None, help="Leads per API key, e.g. 30/minute;1000/day")
@click.option("--per-address", default=None, help="Leads per client address")
@click.option("--per-destination", default=None, help="Leads per phone number")
@click.option("--surge-min", type=int, default=None, help="Leads in an hour before a surge")
@click.option("--surge-factor", type=int, default=None, help="Times the weekly hourly average")
def practice_lead_guard(
    practice_name: str,
    countries: str | None,
    per_key: str | None,
    per_address: str | None,
    per_destination: str | None,
    surge_min: int | None,
    surge_factor: int | None,
) -> None:
    """Show or change the lead form's fraud rules: countries, rate limits, surge alert."""
    from contact_center.leads import guard

    with _one_line_errors(), session_scope() as session:
        practice = practices.practice_by_name(session, practice_name)
        rules = guard.set_guard_settings(
            session,
            practice.id,
            allowed_countries=countries,
            per_key_limit=per_key,
            per_address_limit=per_address,
            per_destination_limit=per_destination,
            surge_min_leads=surge_min,
            surge_factor=surge_factor,
        )
        click.echo(
            f"{practice.name}: countries {','.join(sorted(rules.allowed_countries))}; "
            f"per key {rules.per_key_limit}; per address {rules.per_address_limit}; "
            f"per number {rules.per_destination_limit}; surge above {rules.surge_min_leads} "
            f"leads/hour and {rules.surge_factor}x the usual rate"
        )


@coordinator_cli.command("create")
@click.option("--practice", "practice_name", required=True)
@click.option("--name", required=True)
@click.option("--identity", required=True, help="Softphone client identity, e.g. ava")
def coordinator_create(practice_name: str, name: str, identity: str) -> None:
    """Add a coordinator to a practice."""
    with _one_line_errors(), session_scope() as session:
        practice = practices.practice_by_name(session, practice_name)
        user = practices.add_staff(session, practice, name=name, identity=identity, now=clock.now())
        routing.presence_of(session, user.id, clock.now())
        click.echo(f"coordinator {user.identity} ({user.name}) works for {practice.name}")


@coordinator_cli.command("presence")
@click.argument("identity")
@click.argument("state", type=click.Choice(["available", "away", "offline"]))
def coordinator_presence(identity: str, state: str) -> None:
    """Set a coordinator available, away or offline."""
    with _one_line_errors(), session_scope() as session:
        user = routing.user_by_identity(session, identity)
        routing.set_presence(session, user.id, PresenceState(state), clock.now())
        click.echo(f"{identity} is {state}")


@click.command("seed-demo")
def seed_demo() -> None:
    """Create the demo practice Glow Aesthetics (safe to run again)."""
    with session_scope() as session:
        click.echo(demo.seed(session, clock.now()))


def register(app: Flask) -> None:
    from appointments.cli import appointments_cli
    from appointments.reminder_cli import reminders_cli
    from contact_center.web.cli import user_cli
    from journeys.cli import journeys_cli
    from recordings.cli import recordings_cli
    from transcription.cli import transcription_cli

    commands: list[Callable[..., Any]] = [
        db_cli,
        practice_cli,
        coordinator_cli,
        seed_demo,
        recordings_cli,
        transcription_cli,
        user_cli,
        appointments_cli,
        reminders_cli,
        journeys_cli,
    ]
    for command in commands:
        if command is not db_cli:
            require_schema(command)  # type: ignore[arg-type]
        app.cli.add_command(command)  # type: ignore[arg-type]
