"""Transcripts in the database: store a recognized call once, load its turns, audited reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from contact_center.errors import NotFound
from ivr.models import Call
from qa.audit import Reader, audit_read
from transcription.engines import Word
from transcription.models import Transcript, TranscriptTurn, TranscriptWord
from transcription.turns import Turn


@dataclass(frozen=True)
class RecognizedCall:
    """What the recognizer made of one recording."""

    recording_id: int
    call_id: int
    practice_id: int
    engine: str
    audio_s: float
    processing_s: float
    turns: Sequence[Turn]
    model: str | None = None


def transcript_for_recording(session: Session, recording_id: int) -> Transcript | None:
    return session.scalars(
        select(Transcript).where(Transcript.recording_id == recording_id)
    ).one_or_none()


def store_transcript(session: Session, recognized: RecognizedCall, now: datetime) -> Transcript:
    """Store turns and words of a recording once; a second run returns the first transcript."""
    existing = transcript_for_recording(session, recognized.recording_id)
    if existing is not None:
        return existing
    transcript = Transcript(
        practice_id=recognized.practice_id,
        call_id=recognized.call_id,
        recording_id=recognized.recording_id,
        engine=recognized.engine,
        model=recognized.model[:200] if recognized.model else None,
        audio_s=round(recognized.audio_s, 3),
        processing_s=round(recognized.processing_s, 3),
        word_count=sum(len(t.words) for t in recognized.turns),
        created_at=now,
    )
    session.add(transcript)
    session.flush()
    for position, turn in enumerate(recognized.turns):
        row = TranscriptTurn(
            transcript_id=transcript.id,
            position=position,
            speaker=turn.speaker,
            start_s=turn.start_s,
            end_s=turn.end_s,
            text=turn.text,
            language=turn.language,
        )
        session.add(row)
        session.flush()
        if turn.words:
            # One multi-row INSERT per turn: a long call has thousands of words.
            session.execute(
                insert(TranscriptWord),
                [
                    {
                        "transcript_id": transcript.id,
                        "turn_id": row.id,
                        "position": i,
                        "text": w.text[:64],
                        "start_s": w.start_s,
                        "end_s": w.end_s,
                        "confidence": w.confidence,
                    }
                    for i, w in enumerate(turn.words)
                ],
            )
    return transcript


def load_turns(session: Session, transcript_id: int) -> list[Turn]:
    """The transcript's turns, in order, with their words (the shape scoring works on)."""
    turns = session.scalars(
        select(TranscriptTurn)
        .where(TranscriptTurn.transcript_id == transcript_id)
        .order_by(TranscriptTurn.position)
    ).all()
    words = session.scalars(
        select(TranscriptWord)
        .where(TranscriptWord.transcript_id == transcript_id)
        .order_by(TranscriptWord.turn_id, TranscriptWord.position)
    ).all()
    by_turn: dict[int, list[Word]] = {}
    for w in words:
        by_turn.setdefault(w.turn_id, []).append(Word(w.text, w.start_s, w.end_s, w.confidence))
    return [
        Turn(t.speaker, t.start_s, t.end_s, t.text, tuple(by_turn.get(t.id, ())), t.language)
        for t in turns
    ]


@dataclass(frozen=True)
class TranscriptView:
    transcript_id: int
    call_id: int
    engine: str
    audio_s: float
    turns: list[Turn]


def read_transcript(
    session: Session, reader: Reader, transcript_id: int, now: datetime
) -> TranscriptView:
    """A reader's view of a transcript, audited. Raises Forbidden or NotFound."""
    transcript = session.get(Transcript, transcript_id)
    if transcript is None:
        raise NotFound(f"no transcript {transcript_id}")
    call = session.get_one(Call, transcript.call_id)
    audit_read(
        session,
        reader,
        call,
        action="transcript.view",
        object_type="transcript",
        object_id=transcript.id,
        now=now,
    )
    return TranscriptView(
        transcript.id,
        transcript.call_id,
        transcript.engine,
        transcript.audio_s,
        load_turns(session, transcript.id),
    )
