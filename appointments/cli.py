"""``flask --app wsgi appointments ...``: services, providers and the practice's CalDAV calendar."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from contact_center.db import session_scope

appointments_cli = AppGroup("appointments", help="Services, providers, the practice's calendar.")


def _practice_id(name: str) -> int:
    from sqlalchemy import select

    from contact_center.models import Practice

    with session_scope() as session:
        found = session.scalars(select(Practice.id).where(Practice.name == name)).one_or_none()
    if found is None:
        raise click.ClickException(f"no practice named {name!r}")
    return found


@appointments_cli.command("add-service")
@click.option("--practice", required=True, help="the practice's name")
@click.option("--name", required=True)
@click.option("--minutes", type=int, required=True)
@click.option(
    "--kind", type=click.Choice(["consultation", "treatment", "follow_up"]), required=True
)
def add_service_command(practice: str, name: str, minutes: int, kind: str) -> None:
    """Add a service to the practice's list (its name is never sent by text)."""
    from appointments.catalog import add_service

    practice_id = _practice_id(practice)
    with session_scope() as session:
        service = add_service(session, practice_id, name, minutes, kind)
        click.echo(f"service {service.id}: {service.name}, {service.duration_minutes} min")


@appointments_cli.command("add-provider")
@click.option("--practice", required=True, help="the practice's name")
@click.option("--name", required=True)
@click.option("--hours", default=None, help="e.g. 'mon-thu 09:00-17:00'; default: the practice's")
def add_provider_command(practice: str, name: str, hours: str | None) -> None:
    """Add a provider; prints the secret URL path of their iCalendar feed."""
    from appointments.catalog import add_provider

    practice_id = _practice_id(practice)
    with session_scope() as session:
        provider = add_provider(session, practice_id, name, hours)
        click.echo(
            f"provider {provider.id}: {provider.name}; feed /calendar/{provider.feed_token}.ics"
        )


@appointments_cli.command("connect-calendar")
@click.option("--practice", required=True, help="the practice's name")
@click.option("--url", required=True, help="the CalDAV server, e.g. https://caldav.fastmail.com/")
@click.option("--username", required=True)
@click.option("--calendar-path", default="", help="the calendar collection; default: the first")
@click.password_option("--password", help="the CalDAV (app) password; stored encrypted")
@click.option("--check/--no-check", default=True, help="read the calendar once now")
def connect_calendar_command(
    practice: str, url: str, username: str, calendar_path: str, password: str, check: bool
) -> None:
    """Connect the practice's calendar of record (needs RECORDINGS_KEY for the password)."""
    from appointments.caldav_sync import connect_calendar
    from appointments.jobs import sync_busy
    from contact_center.runtime import current_settings

    practice_id = _practice_id(practice)
    key = current_settings().recordings_key
    with session_scope() as session:
        connect_calendar(session, practice_id, url, username, password, calendar_path, key)
    if check:
        stored = sync_busy(practice_id)
        with session_scope() as session:
            from appointments.caldav_sync import connection_of

            connection = connection_of(session, practice_id)
            error = connection.last_error if connection is not None else None
        if error:
            raise click.ClickException(f"saved, but the calendar could not be read: {error}")
        click.echo(f"calendar connected; {stored} busy times read")


@appointments_cli.command("reconcile")
def reconcile_command() -> None:
    """Copy to the calendar every appointment not yet there (the worker does this on its own)."""
    from appointments.jobs import reconcile_calendars

    click.echo(f"pushed {reconcile_calendars()} appointments")
