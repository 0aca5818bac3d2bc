"""Recording metadata, where its encrypted audio is stored, and each practice's retention."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class RecordingSource(enum.StrEnum):
    CALL = "call"
    VOICEMAIL = "voicemail"


class StorageState(enum.StrEnum):
    """Where the audio of a recording is. ``refused``: never fetched (wrong host, too big)."""

    PENDING = "pending"
    STORED = "stored"
    REFUSED = "refused"
    SKIPPED = "skipped"  # sandbox: there is no Twilio to download from
    DELETED = "deleted"  # removed by retention (metadata and transcript stay)


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    recording_sid: Mapped[str] = mapped_column(String(34), unique=True)
    source: Mapped[RecordingSource] = mapped_column(str_enum(RecordingSource))
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    channels: Mapped[int] = mapped_column(default=1)
    duration_s: Mapped[int | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    storage_state: Mapped[StorageState] = mapped_column(
        str_enum(StorageState), default=StorageState.PENDING
    )
    stored_path: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime | None] = mapped_column()
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    download_attempts: Mapped[int] = mapped_column(default=0)
    last_download_error: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column()
    deleted_at_twilio_at: Mapped[datetime | None] = mapped_column()


DEFAULT_RETENTION_DAYS = 365


class RecordingPolicy(Base):
    """A practice's choices for its audio: how long to keep it, and whether to delete Twilio's copy.

    A practice without a row gets the defaults (keep a year, leave Twilio's copy).
    """

    __tablename__ = "recording_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), unique=True
    )
    retention_days: Mapped[int] = mapped_column(default=DEFAULT_RETENTION_DAYS)
    delete_at_twilio_after_store: Mapped[bool] = mapped_column(default=False)


class TwilioDeletion(Base):
    """A recording Twilio still holds that must go: one made without consent (no Recording row
    is ever kept for it) or one stored here whose practice deletes Twilio's copy. Pending while
    ``deleted_at`` is empty; the deletion job and its reconciler retry until Twilio confirms."""

    __tablename__ = "recording_twilio_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    recording_sid: Mapped[str] = mapped_column(String(34), unique=True)
    reason: Mapped[str] = mapped_column(String(32))  # no_consent | stored_here
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)
