"""``flask --app wsgi recordings retention | reconcile``: for cron."""

from __future__ import annotations

import click
from flask.cli import AppGroup

recordings_cli = AppGroup("recordings", help="Stored call recordings.")


@recordings_cli.command("retention")
def retention_command() -> None:
    """Queue one retention job per practice (deletes audio older than the practice keeps)."""
    from recordings.jobs import enqueue_retention

    click.echo(f"queued retention for {enqueue_retention()} practices")


@recordings_cli.command("reconcile")
@click.option("--older-than", default=600, show_default=True, help="seconds")
def reconcile_command(older_than: int) -> None:
    """Re-queue downloads of recordings still without audio (after a Redis loss)."""
    from recordings.jobs import reconcile_downloads

    click.echo(f"re-queued {reconcile_downloads(older_than)} downloads")
