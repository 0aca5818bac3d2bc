"""Byte ranges of a stored recording: exact bytes, only the covering segments decrypted, 416
for a range past the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contact_center import demo
from contact_center.db import utcnow
from contact_center.web.demo_data import DEMO_CALLS, DEMO_PASSWORD, demo_audio
from ivr.models import Call
from recordings.storage import SEGMENT_BYTES, TAG_BYTES, RecordingStore, StorageError
from tests.web.conftest import log_in
from tests.web.test_demo import demo_recordings, recordings_key  # noqa: F401 (fixture)

KEY = "2f" * 32
SID = "RE" + "d" * 32
HEADER = 6 + 16  # magic + salt


def _recording(tmp_path: Path, size: int) -> tuple[RecordingStore, Path, bytes]:
    data = bytes((i * 7 + i // 251) % 256 for i in range(size))
    store = RecordingStore(tmp_path, KEY)
    stored = store.write(3, SID, [data[i : i + 10_000] for i in range(0, size, 10_000)])
    return store, stored.path, data


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 0),
        (0, SEGMENT_BYTES - 1),
        (SEGMENT_BYTES - 1, SEGMENT_BYTES),
        (SEGMENT_BYTES, 2 * SEGMENT_BYTES - 1),
        (3 * SEGMENT_BYTES + 5, 7 * SEGMENT_BYTES + 9),
        (10 * SEGMENT_BYTES - 10, 10 * SEGMENT_BYTES + 99),  # to the last byte
    ],
)
def test_a_range_is_exactly_the_plaintext_bytes(tmp_path: Path, start: int, end: int) -> None:
    store, path, data = _recording(tmp_path, 10 * SEGMENT_BYTES + 100)
    assert b"".join(store.read_range(path, SID, start, end)) == data[start : end + 1]


def test_a_tail_range_decrypts_only_the_last_segments(tmp_path: Path) -> None:
    """The first segments are corrupted on disk: a full read fails at segment 0, while a range
    in the last segments is served, so nothing before them was decrypted."""
    size = 40 * SEGMENT_BYTES + 1234
    store, path, data = _recording(tmp_path, size)
    blob = bytearray(path.read_bytes())
    for segment in range(38):
        blob[HEADER + segment * (SEGMENT_BYTES + TAG_BYTES) + 5] ^= 0xFF
    path.write_bytes(bytes(blob))
    tail = b"".join(store.read_range(path, SID, size - 70_000, size - 1))
    assert tail == data[size - 70_000 :]
    with pytest.raises(StorageError, match="segment 0"):
        b"".join(store.read(path, SID))
    with pytest.raises(StorageError, match="segment 37"):
        b"".join(store.read_range(path, SID, 37 * SEGMENT_BYTES, 38 * SEGMENT_BYTES))


def test_a_truncated_file_fails_a_range_read_too(tmp_path: Path) -> None:
    store, path, _ = _recording(tmp_path, 5 * SEGMENT_BYTES + 10)
    blob = path.read_bytes()
    path.write_bytes(blob[: HEADER + 3 * (SEGMENT_BYTES + TAG_BYTES)])  # whole segments dropped
    with pytest.raises(StorageError):
        b"".join(store.read_range(path, SID, 2 * SEGMENT_BYTES, 2 * SEGMENT_BYTES + 5))


@pytest.mark.usefixtures("recordings_key")
def test_an_unsatisfiable_range_is_416_not_the_whole_file(
    session: Session, client: FlaskClient
) -> None:
    demo.seed(session, utcnow())
    rec = demo_recordings(session)[0]
    call = session.get_one(Call, rec.call_id)
    log_in(client, "quinn@glow.example", DEMO_PASSWORD)
    page = client.get(f"/p/{call.practice_id}/calls/{call.id}").get_data(as_text=True)
    match = re.search(r'<audio id="player"[^>]* src="([^"]+)"', page)
    assert match
    wav = demo_audio(DEMO_CALLS[0].audio).wav
    past = client.get(match.group(1), headers={"Range": f"bytes={len(wav)}-"})
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{len(wav)}"
    assert past.get_data() == b""
    far = client.get(match.group(1), headers={"Range": "bytes=99999999999-99999999999"})
    assert far.status_code == 416
    tail = client.get(match.group(1), headers={"Range": f"bytes={len(wav) - 5}-"})
    assert tail.status_code == 206 and tail.get_data() == wav[-5:]
