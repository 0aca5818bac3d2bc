"""``flask --app wsgi transcription install-model NAME | check-engine | transcribe PATH.wav``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from contact_center.errors import DomainError
from contact_center.runtime import current_settings
from transcription.errors import TranscriptionError
from transcription.turns import speaker_turns

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
    from transcription.jobs import engine_for

    try:
        engine = engine_for(current_settings())
    except TranscriptionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"speech engine ready: {engine.name}")
    click.echo(f"model: {engine.model}")
    location = getattr(engine, "location", None)
    if location is not None:  # Whisper
        click.echo(f"source: {location.source}")
        click.echo(f"path: {location.path}")
        click.echo(f"sha256 of model.bin: {location.sha256}")
        workers, threads = getattr(engine, "workers", 1), getattr(engine, "threads", 1)
        click.echo(f"decoding: {workers} channel(s) side by side, {threads} CPU thread(s) each")
        click.echo(f"languages: {', '.join(getattr(engine, 'languages', ()))}")
    else:
        click.echo(f"source: directory {engine.model} (VOSK_MODEL_PATH)")


@transcription_cli.command("transcribe")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on standard output.")
@click.option("--practice", default=None, help="Prompt with this practice's names, as its calls.")
def transcribe_command(path: Path, as_json: bool, practice: str | None) -> None:
    """Transcribe a WAV recording exactly as the worker would and print each channel's words.

    Two channels are read as Twilio records an inbound call: the patient on channel 1, the
    coordinator on channel 2; a mono file is one mixed channel. The prompt holds the treatment
    names, and with --practice that practice's and its staff's names, as the worker's does.
    """
    from sqlalchemy import select

    from contact_center.db import session_scope
    from contact_center.models import Practice
    from transcription import audio
    from transcription.jobs import engine_for, vocabulary_for
    from transcription.pipeline import transcribe_channels
    from transcription.vocabulary import practice_prompt

    settings = current_settings()
    prompt = practice_prompt(None, (), settings.whisper_prompt)
    if practice is not None:
        with session_scope() as session:
            found = session.scalars(select(Practice.id).where(Practice.name == practice)).first()
            if found is None:
                click.echo(f"error: no practice named {practice!r}", err=True)
                sys.exit(2)
            prompt = vocabulary_for(session, found, settings)
    try:
        info = audio.read_wav_info(path)
        roles = audio.channel_speakers(info.channels)
        engine = engine_for(settings)
        channels = transcribe_channels(engine, info, roles, prompt)
    except TranscriptionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        document = {
            "engine": engine.name,
            "model": engine.model,
            "channels": [
                {
                    "channel": c.channel,
                    "speaker": c.speaker,
                    "language": c.language,
                    "words": [
                        {
                            "text": w.text,
                            "start": w.start_s,
                            "end": w.end_s,
                            "confidence": w.confidence,
                        }
                        for w in c.words
                    ],
                }
                for c in channels
            ],
        }
        click.echo(json.dumps(document, ensure_ascii=False))
        return
    click.echo(f"{path}: {info.duration_s:.1f} s, {engine.name} ({engine.model})")
    for c in channels:
        click.echo(f"channel {c.channel} ({c.speaker}, language {c.language or 'unknown'}):")
        for turn in speaker_turns(c.words, c.speaker):
            click.echo(f"  [{turn.start_s:7.2f}-{turn.end_s:7.2f}] {turn.text}")
