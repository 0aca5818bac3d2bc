"""``flask --app wsgi journeys ...``: the follow-up journeys of a practice."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from contact_center import clock
from contact_center.db import session_scope

journeys_cli = AppGroup("journeys", help="Follow-up journeys after visits, and reactivation.")


@journeys_cli.command("backfill")
@click.option("--practice", required=True, help="the practice's name")
def backfill_command(practice: str) -> None:
    """Schedule reactivation for patients whose last visit came before journeys existed."""
    from sqlalchemy import select

    from contact_center.models import Practice
    from journeys.services import backfill_reactivation

    with session_scope() as session:
        found = session.scalars(select(Practice.id).where(Practice.name == practice)).first()
        if found is None:
            raise click.ClickException(f"no practice named {practice!r}")
        added = backfill_reactivation(session, found, clock.now())
    click.echo(f"{added} reactivation steps scheduled")
