"""Recording metadata (audio itself is downloaded and stored by a job)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from contact_center.db import Base, str_enum, utcnow


class RecordingSource(enum.StrEnum):
    CALL = "call"
    VOICEMAIL = "voicemail"


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
