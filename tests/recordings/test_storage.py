"""Encryption at rest, retention per practice, and audited reads of recordings."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.errors import Forbidden
from contact_center.models import Practice, Role
from contact_center.settings import Settings, SettingsError
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator
from ivr.models import Call
from qa.audit import Reader, audit_trail
from qa.models import AuditEvent
from recordings import services
from recordings.jobs import purge_expired_audio
from recordings.models import Recording, StorageState
from recordings.storage import (
    SEGMENT_BYTES,
    RecordingStore,
    StorageError,
    decrypt_stream,
    encrypt_stream,
    parse_key,
)
from tests.factories import make_coordinator, make_practice
from tests.recordings.media_server import installed

KEY = "1e" * 32
SID = "RE" + "c" * 32


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES + 17]
)
def test_encryption_round_trips_any_length_in_segments(size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    out = io.BytesIO()
    # Odd chunk sizes: the segmenting must not depend on how the body arrives.
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    written, _ = encrypt_stream(parse_key(KEY), SID, chunks, out)
    assert written == size
    assert b"".join(decrypt_stream(parse_key(KEY), SID, io.BytesIO(out.getvalue()))) == data


def test_tampering_truncation_wrong_key_or_wrong_recording_is_detected() -> None:
    data = b"RIFF" + bytes(3 * SEGMENT_BYTES)
    out = io.BytesIO()
    encrypt_stream(parse_key(KEY), SID, [data], out)
    blob = out.getvalue()
    flipped = bytearray(blob)
    flipped[100] ^= 1
    segment = SEGMENT_BYTES + 16
    header = len(b"CCREC1") + 16
    cases = {
        "flipped bit": bytes(flipped),
        "dropped last segment": blob[: header + 3 * segment],
        "segments swapped": blob[:header]
        + blob[header + segment : header + 2 * segment]
        + blob[header : header + segment]
        + blob[header + 2 * segment :],
    }
    for name, bad in cases.items():
        with pytest.raises(StorageError):
            b"".join(decrypt_stream(parse_key(KEY), SID, io.BytesIO(bad)))
        assert name
    with pytest.raises(StorageError):
        b"".join(decrypt_stream(parse_key("2f" * 32), SID, io.BytesIO(blob)))
    with pytest.raises(StorageError):
        b"".join(decrypt_stream(parse_key(KEY), "RE" + "d" * 32, io.BytesIO(blob)))


def test_store_writes_atomically_and_checks_the_checksum(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path, KEY)

    def failing() -> object:
        yield b"RIFF...."
        raise OSError("connection reset")

    with pytest.raises(OSError):
        store.write(7, SID, failing())  # type: ignore[arg-type]
    assert list(tmp_path.rglob("*.tmp")) == [] and not store.path_for(7, SID).exists()

    stored = store.write(7, SID, [b"RIFF", b"1234WAVE", b"data"])
    assert stored.path == tmp_path / "7" / f"{SID}.wav.enc" and stored.size == 16
    assert b"".join(store.read(stored.path, SID, stored.sha256)) == b"RIFF1234WAVEdata"
    with pytest.raises(StorageError, match="checksum"):
        b"".join(store.read(stored.path, SID, "0" * 64))
    with store.plaintext_copy(stored.path, SID, stored.sha256) as plain:
        assert plain.read_bytes() == b"RIFF1234WAVEdata" and plain.stat().st_mode & 0o077 == 0
    assert not plain.exists()


def test_recordings_key_is_required_in_production_and_must_be_32_bytes(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RECORDINGS_KEY"):
        Settings.from_env({"VAR_DIR": str(tmp_path), "RECORDINGS_KEY": "not-hex"})
    dev = Settings.from_env({"VAR_DIR": str(tmp_path)})
    assert len(parse_key(dev.recordings_key)) == 32  # generated and kept under var/
    assert Settings.from_env({"VAR_DIR": str(tmp_path)}).recordings_key == dev.recordings_key
    with pytest.raises(StorageError, match="RECORDINGS_KEY"):
        RecordingStore(tmp_path, "")


def _stored_recording(
    session: Session, twilio: TwilioSimulator, store: RecordingStore, practice_name: str
) -> tuple[Recording, Call]:
    practice = make_practice(session, name=practice_name)
    coordinator = make_coordinator(session, practice)
    sim = twilio.call(
        "+13105550142",
        practice.phone_number,
        Caller(answers=[Answer(digits="1")], dials=[DialPlan()]),
    )
    sid = sim.recordings[0]["RecordingSid"]
    stored = store.write(practice.id, sid, [b"RIFF0000WAVEfmt "])
    services.mark_stored(session, sid, stored, clock.now())
    rec = services.recording_by_sid(session, sid)
    call = session.get_one(Call, rec.call_id)
    assert call.answered_by_id == coordinator.id
    return rec, call


def test_retention_deletes_old_audio_per_practice_and_keeps_metadata(
    session: Session, twilio: TwilioSimulator, client: object, tmp_path: Path
) -> None:
    store = RecordingStore(tmp_path, KEY)
    old, _ = _stored_recording(session, twilio, store, "Old Practice")
    kept, _ = _stored_recording(session, twilio, store, "Keeps Longer")
    services.set_policy(session, old.practice_id, retention_days=30, delete_at_twilio=False)
    for rec in (old, kept):
        rec.stored_at = clock.now() - timedelta(days=45)
    session.flush()

    with installed(recordings_dir=tmp_path, recordings_key=KEY):
        assert purge_expired_audio(old.practice_id) == 1
        assert purge_expired_audio(kept.practice_id) == 0  # default: a year
        assert purge_expired_audio(old.practice_id) == 0  # idempotent

    session.expire_all()
    assert old.storage_state is StorageState.DELETED and old.deleted_at is not None
    assert (
        old.stored_path is None and not store.path_for(old.practice_id, old.recording_sid).exists()
    )
    assert kept.storage_state is StorageState.STORED and Path(kept.stored_path or "").exists()


def test_reading_a_recording_is_audited_and_limited_to_qa_admins_and_its_coordinator(
    session: Session, twilio: TwilioSimulator, client: object, tmp_path: Path
) -> None:
    store = RecordingStore(tmp_path, KEY)
    rec, call = _stored_recording(session, twilio, store, "Audited Aesthetics")
    practice_id = rec.practice_id
    practice = session.get_one(Practice, practice_id)
    lead = make_coordinator(session, practice, "qalead", role=Role.QA_LEAD)
    colleague = make_coordinator(session, practice, "colleague")
    outsider = make_coordinator(session, make_practice(session), "outsider", role=Role.QA_LEAD)
    now = clock.now()

    audio = services.open_recording(
        session, Reader(lead.id, "203.0.113.9", "Firefox"), rec.id, now, action="download"
    )
    assert audio.path == Path(rec.stored_path or "") and audio.recording_sid == rec.recording_sid
    services.open_recording(session, Reader(call.answered_by_id or 0, "198.51.100.4"), rec.id, now)
    for stranger in (colleague, outsider):
        with pytest.raises(Forbidden):
            services.open_recording(session, Reader(stranger.id, "192.0.2.1"), rec.id, now)

    trail = audit_trail(session, practice_id, call.id)
    assert sorted(
        (e.user_id, e.action, e.object_type, e.object_id, e.ip_address) for e in trail
    ) == sorted(
        [
            (lead.id, "recording.download", "recording", rec.id, "203.0.113.9"),
            (call.answered_by_id, "recording.play", "recording", rec.id, "198.51.100.4"),
        ]
    )
    assert all(e.at == now for e in trail)
    assert session.scalars(select(AuditEvent).where(AuditEvent.user_id == outsider.id)).all() == []
