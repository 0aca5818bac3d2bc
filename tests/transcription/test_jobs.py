"""The transcription job's wiring: engine choice, channel roles, model errors, model install."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from contact_center.settings import Settings
from ivr.models import Direction
from recordings.models import RecordingSource
from tests.factories import make_coordinator, make_practice
from tests.recordings.media_server import installed
from transcription.errors import TranscriptionError
from transcription.jobs import channel_roles, engine_for, vocabulary_for

NAME = "vosk-model-small-en-us-9.9"
MODEL_FILES = {
    "am/final.mdl": b"acoustic model bytes",
    "conf/model.conf": b"--sample-frequency=16000\n",
    "conf/mfcc.conf": b"--sample-frequency=16000\n",
    "graph/HCLG.fst": b"graph bytes",
    "README": b"a test model, not a real one",
}


def model_zip(files: dict[str, bytes] = MODEL_FILES, top: str = NAME) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{top}/{name}" if top else name, data)
    return out.getvalue()


class ModelSite:
    """A local stand-in for the official Vosk model site."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.base = ""

    def publish(
        self,
        name: str,
        archive: bytes,
        *,
        size: int | None = None,
        md5: str | None = None,
        url: str | None = None,
    ) -> None:
        entry = {
            "name": name,
            "lang": "en-us",
            "type": "small",
            "version": "9.9",
            "url": url or f"{self.base}/{name}.zip",
            "size": len(archive) if size is None else size,
            "md5": md5 or hashlib.md5(archive).hexdigest(),
        }
        self.files[f"/{name}.zip"] = archive
        self.files["/model-list.json"] = json.dumps([entry]).encode()


@pytest.fixture
def site(app: Flask, tmp_path: Path) -> Iterator[ModelSite]:
    state = ModelSite()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            body = state.files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with installed(vosk_model_site=state.base, vosk_models_dir=tmp_path / "models"):
        yield state
    server.shutdown()
    server.server_close()


def install(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["transcription", "install-model", *args])
    return result.exit_code, result.output


def test_install_model_downloads_verifies_and_unpacks(
    app: Flask, site: ModelSite, tmp_path: Path
) -> None:
    archive = model_zip()
    site.publish(NAME, archive)
    code, output = install(app, NAME, "--sha256", hashlib.sha256(archive).hexdigest())
    assert code == 0, output
    model = tmp_path / "models" / NAME
    assert (model / "am/final.mdl").read_bytes() == b"acoustic model bytes"
    assert f"VOSK_MODEL_PATH={model}" in output
    assert [p.name for p in (tmp_path / "models").iterdir()] == [NAME]  # no leftovers


@pytest.mark.parametrize(
    ("publish", "args", "message"),
    [
        ({"md5": "0" * 32}, (), "MD5"),
        ({"size": 10}, (), "exceeds the listed"),
        ({"size": 10**6}, (), "the list says"),
        ({}, ("--sha256", "ab" * 32), "SHA-256"),
        ({"url": "http://10.0.0.1/evil.zip"}, (), "outside"),
    ],
)
def test_install_model_refuses_what_does_not_verify(
    app: Flask,
    site: ModelSite,
    tmp_path: Path,
    publish: dict[str, object],
    args: tuple[str, ...],
    message: str,
) -> None:
    site.publish(NAME, model_zip(), **publish)  # type: ignore[arg-type]
    code, output = install(app, NAME, *args)
    assert code == 2 and message in output
    assert not (tmp_path / "models" / NAME).exists()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (model_zip({"../../escape.txt": b"x"}, top=""), "escapes"),
        (model_zip({"README": b"no model here"}), "not a Vosk model"),
        (b"PK not really a zip", "not a valid zip"),
    ],
)
def test_install_model_refuses_unsafe_or_broken_archives(
    app: Flask, site: ModelSite, tmp_path: Path, archive: bytes, message: str
) -> None:
    site.publish(NAME, archive)
    code, output = install(app, NAME)
    assert code == 2 and message in output, output
    assert not (tmp_path.parent / "escape.txt").exists()


def test_install_model_refuses_unknown_and_malformed_names(app: Flask, site: ModelSite) -> None:
    site.publish(NAME, model_zip())
    assert install(app, "vosk-model-nope-1.0")[0] == 2
    code, output = install(app, "../../etc")
    assert code == 2 and "not a Vosk model name" in output


def test_missing_or_corrupt_vosk_model_fails_clearly_at_worker_start(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(TranscriptionError, match="does not exist"):
        engine_for(settings.with_overrides(vosk_model_path=str(tmp_path / "absent")))
    corrupt = tmp_path / "corrupt"
    for name, data in MODEL_FILES.items():
        (corrupt / name).parent.mkdir(parents=True, exist_ok=True)
        (corrupt / name).write_bytes(data)
    with pytest.raises(TranscriptionError, match="corrupt"):
        engine_for(settings.with_overrides(vosk_model_path=str(corrupt)))
    with installed(vosk_model_path=str(tmp_path / "absent")):
        result = app.test_cli_runner().invoke(args=["transcription", "check-engine"])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_without_a_vosk_model_the_built_in_engine_is_used_once_per_process(
    settings: Settings,
) -> None:
    engine = engine_for(settings)
    assert engine.name == "whisper" and engine.model == "base"
    assert engine_for(settings) is engine


def test_channel_roles_follow_the_dial_leg_convention() -> None:
    assert channel_roles(2, RecordingSource.CALL, Direction.INBOUND) == ("patient", "coordinator")
    # Outbound callbacks ring the coordinator first and dial the patient from that call.
    assert channel_roles(2, RecordingSource.CALL, Direction.OUTBOUND) == ("coordinator", "patient")
    assert channel_roles(1, RecordingSource.VOICEMAIL, Direction.INBOUND) == ("patient",)
    assert channel_roles(1, RecordingSource.CALL, Direction.INBOUND) == ("mixed",)


def test_each_practices_calls_are_prompted_with_its_own_names(
    session: Session, settings: Settings
) -> None:
    glow = make_practice(session, name="Glow Aesthetics")
    other = make_practice(session, name="Park Avenue Skin Center")
    ava = make_coordinator(session, glow, "ava")
    make_coordinator(session, other, "emily")
    prompt = vocabulary_for(session, glow.id, settings.with_overrides(whisper_prompt="Morpheus8"))
    assert prompt.startswith("Glow Aesthetics. ")
    assert ava.name in prompt and "Juvederm" in prompt and prompt.endswith("Morpheus8")
    assert "Park Avenue" not in prompt  # another practice's names never leak into this one's
