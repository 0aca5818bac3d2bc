"""``flask --app wsgi reminders settings``: a practice's reminder sequence."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from contact_center import clock
from contact_center.db import session_scope
from contact_center.errors import InvalidInput

reminders_cli = AppGroup("reminders", help="The practice's appointment reminder sequence.")


@reminders_cli.command("settings")
@click.option("--practice", required=True, help="the practice's name")
@click.option("--on/--off", "enabled", default=None, help="send reminders at all")
@click.option("--first-hours", type=int, default=None, help="first reminder, hours before (0: off)")
@click.option("--second-hours", type=int, default=None, help="second reminder (0: off)")
@click.option(
    "--second-unconfirmed-only/--second-always",
    "second_only",
    default=None,
    help="skip the second reminder once the patient confirmed",
)
@click.option("--morning/--no-morning", "morning", default=None, help="the morning-of reminder")
@click.option("--morning-hour", type=int, default=None, help="its hour, patient's zone (8-12)")
@click.option("--link-hours", type=int, default=None, help="reschedule links stay valid (hours)")
def settings_command(
    practice: str,
    enabled: bool | None,
    first_hours: int | None,
    second_hours: int | None,
    second_only: bool | None,
    morning: bool | None,
    morning_hour: int | None,
    link_hours: int | None,
) -> None:
    """Show or change the sequence (defaults: 48 h, 24 h if unconfirmed, 8:00 the morning of)."""
    from appointments import reminders
    from appointments.cli import _practice_id

    practice_id = _practice_id(practice)
    try:
        with session_scope() as session:
            row = reminders.update_settings(
                session,
                practice_id,
                clock.now(),
                enabled=enabled,
                first_hours_before=first_hours,
                second_hours_before=second_hours,
                second_only_unconfirmed=second_only,
                morning_of=morning,
                morning_hour=morning_hour,
                link_hours=link_hours,
            )
            click.echo(f"{practice}: {reminders.describe(row)}")
    except InvalidInput as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc
