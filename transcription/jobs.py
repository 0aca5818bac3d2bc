"""Transcription job: a stored recording becomes a transcript with speaker turns, then is scored.

Runs on the ``transcription`` queue (its own workers, possibly its own machines). The engine is
loaded once per worker process by ``transcription.engines.load_engine`` and reused: Vosk when
``VOSK_MODEL_PATH`` names a model directory, otherwise the bundled PocketSphinx.

Which channel is which speaker: a ``<Dial record="record-from-answer-dual">`` recording has the
parent leg on channel 1 and the dialed leg on channel 2 (Twilio's RecordingChannels
documentation; see ``transcription.audio``). An inbound call's parent leg is the patient who
called, so channel 1 is the patient and channel 2 the coordinator. Our outbound callbacks first
ring the coordinator's softphone and dial the patient from that call, so there the parent leg
(channel 1) is the coordinator. A voicemail is one channel: the patient alone.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import TRANSCRIPTION, after_commit
from contact_center.runtime import current_settings
from contact_center.settings import Settings
from ivr.models import Call, Direction
from qa import jobs as qa_jobs
from qa.models import CallScore
from recordings import services as recordings
from recordings.models import Recording, RecordingSource, StorageState
from recordings.storage import store_for
from transcription import audio, services
from transcription.engines import Engine, Word, load_engine
from transcription.models import Transcript
from transcription.turns import merge_turns

logger = logging.getLogger(__name__)

TRANSCRIBE_TIMEOUT_S = 3600
# The reconciler leaves recent work to its job (it may be waiting or running) and gives up on
# work older than a week (a recording that keeps failing is in RQ's failed registry by then).
RECONCILE_AFTER = timedelta(minutes=10)
RECONCILE_WITHIN = timedelta(days=7)


def schedule_transcription(session: Session, recording_sid: str) -> None:
    """Transcribe a recording once ``session`` (which stored its audio) commits."""
    after_commit(
        session,
        transcribe_recording,
        recording_sid,
        queue=TRANSCRIPTION,
        job_id=f"transcribe-{recording_sid}",
        timeout=TRANSCRIBE_TIMEOUT_S,
        rerun_if_running=False,  # one long run at a time; the transcript is stored once
    )


def schedule_scoring(session: Session, transcript_id: int) -> None:
    """Score a transcript once ``session`` (which stored it) commits."""
    after_commit(
        session,
        qa_jobs.score_transcript,
        transcript_id,
        job_id=f"score-transcript-{transcript_id}",
        rerun_if_running=False,
    )


def reconcile_transcripts() -> tuple[int, int]:
    """The periodic reconciler: stored recordings without a transcript are transcribed, and
    call transcripts without a score are scored (a lost Redis or a killed worker loses no
    call's QA). Returns (transcriptions, scorings) started."""
    now = clock.now()
    with session_scope() as session:
        untranscribed = list(
            session.scalars(
                select(Recording.recording_sid)
                .outerjoin(Transcript, Transcript.recording_id == Recording.id)
                .where(
                    Recording.storage_state == StorageState.STORED,
                    Recording.stored_at < now - RECONCILE_AFTER,
                    Recording.stored_at > now - RECONCILE_WITHIN,
                    Transcript.id.is_(None),
                )
                .order_by(Recording.id)
            )
        )
        unscored = list(
            session.scalars(
                select(Transcript.id)
                .join(Recording, Recording.id == Transcript.recording_id)
                .outerjoin(CallScore, CallScore.transcript_id == Transcript.id)
                .where(
                    Recording.source == RecordingSource.CALL,
                    Transcript.created_at < now - RECONCILE_AFTER,
                    Transcript.created_at > now - RECONCILE_WITHIN,
                    CallScore.id.is_(None),
                )
                .order_by(Transcript.id)
            )
        )
        for sid in untranscribed:
            schedule_transcription(session, sid)
        for transcript_id in unscored:
            schedule_scoring(session, transcript_id)
    if untranscribed or unscored:
        logger.info("transcripts reconciled transcribe=%s score=%s", untranscribed, unscored)
    return len(untranscribed), len(unscored)


def engine_for(settings: Settings) -> Engine:
    """This process's engine (loaded on first use; TranscriptionError for a bad Vosk model)."""
    return load_engine(settings.vosk_model_path)


def prepare_worker(settings: Settings) -> str:
    """Load the engine at worker start so a missing or corrupt model fails there, clearly."""
    return engine_for(settings).name


def channel_roles(channels: int, source: RecordingSource, direction: Direction) -> tuple[str, ...]:
    """The speaker on each channel of a recording (see the module docstring)."""
    if source is RecordingSource.VOICEMAIL and channels == 1:
        return (audio.PATIENT,)
    parent = audio.COORDINATOR if direction is Direction.OUTBOUND else audio.PATIENT
    return audio.channel_speakers(channels, parent_speaker=parent)


def transcribe_recording(recording_sid: str) -> int | None:
    """Recognize a stored recording per channel and store its turns; then queue QA scoring.

    Safe to run twice (the transcript is stored once per recording). Returns the transcript id,
    or None when the recording has no audio (refused, skipped or deleted).
    """
    settings = current_settings()
    with session_scope() as session:
        rec = recordings.recording_by_sid(session, recording_sid)
        done = services.transcript_for_recording(session, rec.id)
        if done is not None:
            return done.id
        try:
            stored = recordings.stored_audio(rec)
        except recordings.NotFound:
            logger.info("no audio to transcribe recording_sid=%s", recording_sid)
            return None
        call = session.get_one(Call, rec.call_id)
        roles = channel_roles(rec.channels, rec.source, call.direction)
        ids = (rec.id, rec.call_id, rec.practice_id)
    engine = engine_for(settings)
    started = time.perf_counter()
    with store_for(settings).plaintext_copy(stored.path, recording_sid, stored.sha256) as wav:
        info = audio.read_wav_info(wav)
        if info.channels != len(roles):
            roles = channel_roles(info.channels, stored.source, call.direction)
        words: dict[str, list[Word]] = {}
        for channel, speaker in enumerate(roles):
            words[speaker] = engine.recognize(audio.channel_pcm(info, channel, engine.sample_rate))
    elapsed = time.perf_counter() - started
    recognized = services.RecognizedCall(
        recording_id=ids[0],
        call_id=ids[1],
        practice_id=ids[2],
        engine=engine.name,
        audio_s=info.duration_s,
        processing_s=elapsed,
        turns=merge_turns(words),
    )
    with session_scope() as session:
        transcript_id = services.store_transcript(session, recognized, clock.now()).id
        if stored.source is RecordingSource.CALL:
            schedule_scoring(session, transcript_id)
    logger.info(
        "transcribed recording_sid=%s engine=%s audio_s=%.1f rtf=%.2f words=%d",
        recording_sid,
        engine.name,
        info.duration_s,
        elapsed / max(info.duration_s, 1e-6),
        sum(len(w) for w in words.values()),
    )
    return transcript_id
