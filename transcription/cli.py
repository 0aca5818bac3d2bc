"""``flask --app wsgi transcription install-model NAME | check-engine``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from contact_center.errors import DomainError
from contact_center.runtime import current_settings
from transcription.errors import TranscriptionError

transcription_cli = AppGroup("transcription", help="Speech engines and their models.")


@transcription_cli.command("install-model")
@click.argument("name")
@click.option("--sha256", default=None, help="Also require this SHA-256 of the zip.")
def install_model_command(name: str, sha256: str | None) -> None:
    """Install Vosk model NAME (e.g. vosk-model-en-us-0.22) from the official model site."""
    from transcription.vosk_models import install_model

    settings = current_settings()
    models_dir = settings.vosk_models_dir or settings.var_dir / "models"
    try:
        installed = install_model(name, settings.vosk_model_site, models_dir, sha256=sha256)
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(
        f"installed {name} in {installed.path} ({installed.size} bytes, "
        f"md5 {installed.md5}, sha256 {installed.sha256})"
    )
    click.echo(f"use it with VOSK_MODEL_PATH={installed.path}")


@transcription_cli.command("check-engine")
def check_engine_command() -> None:
    """Load the configured engine as a worker would; exit 2 with the reason if it cannot."""
    from transcription.jobs import prepare_worker

    try:
        name = prepare_worker(current_settings())
    except TranscriptionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"speech engine ready: {name}")
