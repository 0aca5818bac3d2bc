"""Recordings at rest: encrypted files under ``RECORDINGS_DIR``, streamed in constant memory.

File format (version 1), a streaming AEAD in the manner of Tink's AES-GCM-HKDF streaming:

    magic "CCREC1" | salt (16 bytes) | segments...
    segment = AES-256-GCM(key_i, nonce = counter (11 bytes, big-endian) | last (1 byte),
                          plaintext of up to SEGMENT_BYTES, aad = magic | context)

The per-file key is HKDF-SHA256(RECORDINGS_KEY, salt, info = context), where ``context`` names the
recording (its RecordingSid), so a file copied over another recording's path does not decrypt.
The counter and the last-segment flag in the nonce make reordered, dropped or truncated segments
fail authentication. One segment is in memory at a time, whatever the recording's length.
Every segment but the last holds exactly SEGMENT_BYTES, so a byte range is read by seeking to its
first segment: a range near the end of a long recording decrypts only the segments it covers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from contact_center.errors import DomainError
from contact_center.settings import Settings

MAGIC = b"CCREC1"
SALT_BYTES = 16
SEGMENT_BYTES = 64 * 1024
TAG_BYTES = 16
_MAX_SEGMENTS = 2**88  # an 11-byte counter


class StorageError(DomainError):
    """A stored recording is missing, was tampered with, or the key is wrong or unset."""


@dataclass(frozen=True)
class StoredFile:
    """What was written: where, and the plaintext's size and SHA-256 (checked on every read)."""

    path: Path
    size: int
    sha256: str


def parse_key(hex_key: str) -> bytes:
    """The 32-byte master key from RECORDINGS_KEY (64 hex characters)."""
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise StorageError("RECORDINGS_KEY is unset or not 64 hexadecimal characters")
    return key


def _file_cipher(master: bytes, salt: bytes, context: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=context.encode())
    return AESGCM(hkdf.derive(master))


def _nonce(counter: int, last: bool) -> bytes:
    if counter >= _MAX_SEGMENTS:
        raise StorageError("recording too long for one encrypted file")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def encrypt_stream(
    master: bytes, context: str, chunks: Iterable[bytes], out: BinaryIO
) -> tuple[int, str]:
    """Encrypt chunks (any sizes) into ``out``; returns the plaintext's size and SHA-256."""
    salt = secrets.token_bytes(SALT_BYTES)
    cipher = _file_cipher(master, salt, context)
    aad = MAGIC + context.encode()
    out.write(MAGIC + salt)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    pending = bytearray()
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        pending += chunk
        # Keep at least one byte back so the final segment is always the one sealed as last.
        while len(pending) > SEGMENT_BYTES:
            out.write(cipher.encrypt(_nonce(counter, False), bytes(pending[:SEGMENT_BYTES]), aad))
            del pending[:SEGMENT_BYTES]
            counter += 1
    out.write(cipher.encrypt(_nonce(counter, True), bytes(pending), aad))
    return size, digest.hexdigest()


def decrypt_stream(master: bytes, context: str, source: BinaryIO) -> Iterator[bytes]:
    """Yield the plaintext segment by segment; raises StorageError on any tampering."""
    header = source.read(len(MAGIC) + SALT_BYTES)
    if len(header) != len(MAGIC) + SALT_BYTES or not header.startswith(MAGIC):
        raise StorageError("not an encrypted recording (bad header)")
    cipher = _file_cipher(master, header[len(MAGIC) :], context)
    aad = MAGIC + context.encode()
    counter = 0
    segment = source.read(SEGMENT_BYTES + TAG_BYTES)
    while True:
        following = source.read(SEGMENT_BYTES + TAG_BYTES)
        last = not following
        try:
            yield cipher.decrypt(_nonce(counter, last), segment, aad)
        except InvalidTag as exc:
            raise StorageError(
                f"encrypted recording failed authentication at segment {counter} "
                "(tampered, truncated, wrong key or wrong recording)"
            ) from exc
        if last:
            return
        segment = following
        counter += 1


def decrypt_range(
    master: bytes, context: str, source: BinaryIO, start: int, end: int
) -> Iterator[bytes]:
    """Yield plaintext bytes ``start..end`` (inclusive) from a seekable encrypted file,
    decrypting only the segments that hold them. Raises StorageError on tampering."""
    header_size = len(MAGIC) + SALT_BYTES
    header = source.read(header_size)
    if len(header) != header_size or not header.startswith(MAGIC):
        raise StorageError("not an encrypted recording (bad header)")
    cipher = _file_cipher(master, header[len(MAGIC) :], context)
    aad = MAGIC + context.encode()
    stride = SEGMENT_BYTES + TAG_BYTES
    body_size = source.seek(0, os.SEEK_END) - header_size
    count = max(1, -(-body_size // stride))
    first = max(start, 0) // SEGMENT_BYTES
    if first >= count or end < start:
        return
    source.seek(header_size + first * stride)
    for counter in range(first, count):
        offset = counter * SEGMENT_BYTES
        try:
            plain = cipher.decrypt(_nonce(counter, counter == count - 1), source.read(stride), aad)
        except InvalidTag as exc:
            raise StorageError(
                f"encrypted recording failed authentication at segment {counter} "
                "(tampered, truncated, wrong key or wrong recording)"
            ) from exc
        yield plain[max(start - offset, 0) : max(end + 1 - offset, 0)]
        if offset + len(plain) > end:
            return


class RecordingStore:
    """Encrypted recordings under one root directory, one file per RecordingSid."""

    def __init__(self, root: Path, hex_key: str) -> None:
        self.root = Path(root)
        self._key = parse_key(hex_key)

    def path_for(self, practice_id: int, recording_sid: str) -> Path:
        return self.root / str(practice_id) / f"{recording_sid}.wav.enc"

    def write(self, practice_id: int, recording_sid: str, chunks: Iterable[bytes]) -> StoredFile:
        """Encrypt chunks into the recording's file atomically (temp file, fsync, rename).

        If ``chunks`` raises, nothing is left behind and the exception propagates.
        """
        path = self.path_for(practice_id, recording_sid)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size, sha = encrypt_stream(self._key, recording_sid, chunks, out)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredFile(path, size, sha)

    def read(self, path: Path, recording_sid: str, sha256: str | None = None) -> Iterator[bytes]:
        """Yield the decrypted recording; with ``sha256``, check it once the last byte is out."""
        if not Path(path).is_file():
            raise StorageError(f"stored recording {recording_sid} is missing")
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            for chunk in decrypt_stream(self._key, recording_sid, source):
                digest.update(chunk)
                yield chunk
        if sha256 is not None and digest.hexdigest() != sha256:
            raise StorageError(f"stored recording {recording_sid} does not match its checksum")

    def read_range(self, path: Path, recording_sid: str, start: int, end: int) -> Iterator[bytes]:
        """Yield plaintext bytes ``start..end`` (inclusive): the file is seeked to the first
        segment holding ``start``; only the segments in the range are decrypted."""
        if not Path(path).is_file():
            raise StorageError(f"stored recording {recording_sid} is missing")
        with open(path, "rb") as source:
            yield from decrypt_range(self._key, recording_sid, source, start, end)

    @contextmanager
    def plaintext_copy(self, path: Path, recording_sid: str, sha256: str | None) -> Iterator[Path]:
        """A decrypted copy in a private temporary file (0600), removed on exit.

        The audio reader needs a seekable file; the copy lives only as long as the job using it.
        """
        fd, name = tempfile.mkstemp(prefix="rec-", suffix=".wav")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.read(path, recording_sid, sha256):
                    out.write(chunk)
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, path: Path) -> bool:
        """Remove a stored file; False when it was already gone."""
        try:
            Path(path).unlink()
        except FileNotFoundError:
            return False
        return True


def store_for(settings: Settings) -> RecordingStore:
    """The process's store, from RECORDINGS_DIR and RECORDINGS_KEY."""
    return RecordingStore(settings.recordings_dir, settings.recordings_key)
