"""Install a named Vosk model from the official model site, verifying its size and checksum.

Vosk models are on no package registry. The site publishes ``model-list.json`` with each model's
name, zip URL, size in bytes and MD5; the zip is downloaded (from the site's own origin only),
checked against both, optionally against a SHA-256 the operator pins, unpacked safely (no paths
outside the target, no links, bounded size) and checked to look like a Vosk model before it is
moved into the models folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import requests

from contact_center.errors import DomainError
from transcription.engines import check_vosk_model
from transcription.errors import TranscriptionError

_NAME = re.compile(r"^vosk-model-[a-z0-9][a-z0-9.\-]*$")
LIST_MAX_BYTES = 5 * 1024 * 1024
UNPACKED_MAX_BYTES = 16 * 1024**3
TIMEOUT = (10.0, 60.0)
CHUNK = 1024 * 1024


class ModelInstallError(DomainError):
    """The model could not be installed; the message says why."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    url: str
    size: int
    md5: str


@dataclass(frozen=True)
class InstalledModel:
    path: Path
    size: int
    md5: str
    sha256: str


def _get(http: requests.Session, url: str) -> requests.Response:
    try:
        response = http.get(url, stream=True, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise ModelInstallError(f"cannot reach {urlsplit(url).netloc}: {exc}") from exc
    if response.status_code != 200:
        response.close()
        raise ModelInstallError(f"HTTP {response.status_code} for {url}")
    return response


def find_model(http: requests.Session, site: str, name: str) -> ModelEntry:
    """The site's entry for ``name``. Raises ModelInstallError for an unknown or odd entry."""
    with _get(http, f"{site}/model-list.json") as response:
        raw = response.raw.read(LIST_MAX_BYTES + 1, decode_content=True)
    if len(raw) > LIST_MAX_BYTES:
        raise ModelInstallError("model list is unexpectedly large")
    try:
        entries = json.loads(raw)
        entry = next((e for e in entries if e.get("name") == name), None)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ModelInstallError("model list is not the expected JSON") from exc
    if entry is None:
        raise ModelInstallError(f"no model named {name} on {site}")
    url = str(entry.get("url") or f"{site}/{name}.zip")
    site_parts, url_parts = urlsplit(site), urlsplit(url)
    if (url_parts.scheme, url_parts.netloc) != (site_parts.scheme, site_parts.netloc):
        raise ModelInstallError(f"model {name} points outside {site}: refused")
    try:
        size, md5 = int(entry["size"]), str(entry["md5"]).lower()
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelInstallError(f"model {name} has no size or md5 in the list") from exc
    if not re.fullmatch(r"[0-9a-f]{32}", md5) or size <= 0:
        raise ModelInstallError(f"model {name} has a malformed size or md5 in the list")
    return ModelEntry(name, url, size, md5)


def _download(http: requests.Session, entry: ModelEntry, dest: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    received = 0
    with _get(http, entry.url) as response, dest.open("wb") as out:
        try:
            for chunk in response.iter_content(CHUNK):
                received += len(chunk)
                if received > entry.size:
                    raise ModelInstallError(
                        f"{entry.name}: download exceeds the listed {entry.size} bytes"
                    )
                md5.update(chunk)
                sha.update(chunk)
                out.write(chunk)
        except requests.RequestException as exc:
            raise ModelInstallError(f"{entry.name}: download interrupted: {exc}") from exc
    if received != entry.size:
        raise ModelInstallError(f"{entry.name}: got {received} bytes, the list says {entry.size}")
    if md5.hexdigest() != entry.md5:
        raise ModelInstallError(f"{entry.name}: MD5 {md5.hexdigest()} does not match the list")
    return md5.hexdigest(), sha.hexdigest()


def _safe_extract(archive: Path, target: Path) -> None:
    """Unpack regular files and directories only, each inside ``target``, within a size bound."""
    with zipfile.ZipFile(archive) as zf:
        total = 0
        for info in zf.infolist():
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
                raise ModelInstallError(f"archive entry {info.filename!r} escapes the model folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ModelInstallError(f"archive entry {info.filename!r} is a link: refused")
            total += info.file_size
            if total > UNPACKED_MAX_BYTES:
                raise ModelInstallError("archive unpacks to more than the allowed size")
        zf.extractall(target)


def install_model(
    name: str, site: str, models_dir: Path, *, sha256: str | None = None
) -> InstalledModel:
    """Download, verify and unpack model ``name`` into ``models_dir/name``.

    Raises ModelInstallError (bad name, unknown model, size or checksum mismatch, unsafe or
    broken archive); an existing install of the same name is replaced only after success.
    """
    if not _NAME.match(name):
        raise ModelInstallError(f"{name!r} is not a Vosk model name (vosk-model-...)")
    site = site.rstrip("/")
    models_dir.mkdir(parents=True, exist_ok=True)
    with requests.Session() as http, tempfile.TemporaryDirectory(dir=models_dir) as work_dir:
        http.trust_env = False
        work = Path(work_dir)
        entry = find_model(http, site, name)
        archive = work / f"{name}.zip"
        md5, sha = _download(http, entry, archive)
        if sha256 is not None and sha != sha256.lower():
            raise ModelInstallError(f"{name}: SHA-256 {sha} is not the pinned {sha256}")
        unpacked = work / "unpacked"
        try:
            _safe_extract(archive, unpacked)
        except zipfile.BadZipFile as exc:
            raise ModelInstallError(f"{name}: not a valid zip archive") from exc
        inner = unpacked / name if (unpacked / name).is_dir() else unpacked
        try:
            check_vosk_model(inner)
        except TranscriptionError as exc:
            raise ModelInstallError(f"{name}: {exc}") from exc
        final = models_dir / name
        if final.exists():
            shutil.rmtree(final)
        inner.replace(final)
    return InstalledModel(final, entry.size, md5, sha)
