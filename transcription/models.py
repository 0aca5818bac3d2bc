"""Transcripts per recording of a call: speaker turns and their words, with timings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contact_center.db import Base, utcnow


class Transcript(Base):
    """The recognized speech of one recording (a call has one, a voicemail another)."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(
        ForeignKey("practices.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True
    )
    engine: Mapped[str] = mapped_column(String(32))
    # Which model of the engine ("base", a WHISPER_MODEL name or directory); None before 0016.
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    audio_s: Mapped[float] = mapped_column()
    processing_s: Mapped[float] = mapped_column()
    word_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    turns: Mapped[list[TranscriptTurn]] = relationship(
        back_populates="transcript", order_by="TranscriptTurn.position"
    )


class TranscriptTurn(Base):
    __tablename__ = "transcript_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column()
    # "patient", "coordinator" or "mixed" (a mono recording, e.g. a voicemail).
    speaker: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column()
    end_s: Mapped[float] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    # The language the speaker's channel was transcribed in ("en", "es"); None when unknown.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)

    transcript: Mapped[Transcript] = relationship(back_populates="turns")
    words: Mapped[list[TranscriptWord]] = relationship(order_by="TranscriptWord.position")


class TranscriptWord(Base):
    __tablename__ = "transcript_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(
        ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    turn_id: Mapped[int] = mapped_column(ForeignKey("transcript_turns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    text: Mapped[str] = mapped_column(String(64))
    start_s: Mapped[float] = mapped_column()
    end_s: Mapped[float] = mapped_column()
    confidence: Mapped[float] = mapped_column()
