"""Recording jobs: each takes a RecordingSid (or a practice id) and is safe to run twice.

Jobs are entry points: they own their transactions and hand off to the next stage
(transcription) with ``after_commit``; reconcilers re-enqueue what the database says is due.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.db import session_scope
from contact_center.jobs import DEFAULT, after_commit
from contact_center.models import Practice
from contact_center.runtime import current_settings
from contact_center.settings import TWILIO_API_BASE
from contact_center.twilio import get_adapter
from recordings import download, services
from recordings.storage import store_for
from transcription import jobs as transcription_jobs

logger = logging.getLogger(__name__)

# Retries of a failed download: after 30 s, 2 min, 10 min, 1 h (Twilio may still be
# finishing the media right after the callback; outages rarely last longer).
DOWNLOAD_BACKOFF = (30, 120, 600, 3600)


def enqueue_download(session: Session, recording_sid: str) -> None:
    """Download a recording once ``session`` (which wrote its metadata) commits."""
    after_commit(
        session,
        download_recording,
        recording_sid,
        queue=DEFAULT,
        job_id=f"download-recording-{recording_sid}",
        retries=len(DOWNLOAD_BACKOFF),
        backoff=DOWNLOAD_BACKOFF,
        timeout=900,
    )


def download_recording(recording_sid: str) -> None:
    """Fetch a recording from Twilio's API host, store it encrypted, then queue transcription.

    Refusals (wrong host or account, too large, not WAV) mark the recording refused and end the
    job; transient failures raise ``DownloadFailed`` so RQ retries with backoff.
    """
    settings = current_settings()
    with session_scope() as session:
        plan = services.begin_download(session, recording_sid)
    if plan is None:
        logger.info("nothing to download recording_sid=%s", recording_sid)
        return
    if settings.sandbox and settings.twilio_api_base == TWILIO_API_BASE:
        with session_scope() as session:
            services.skip_download(session, recording_sid)
        logger.info("sandbox: download skipped recording_sid=%s", recording_sid)
        return
    try:
        url = download.media_url(
            plan.url,
            recording_sid=recording_sid,
            account_sid=settings.twilio_account_sid,
            base=download.api_base(settings),
            channels=plan.channels,
        )
        body = download.fetch_media(
            url,
            (settings.twilio_account_sid, settings.twilio_auth_token),
            max_bytes=settings.recording_max_bytes,
        )
        stored = store_for(settings).write(plan.practice_id, recording_sid, body)
    except download.DownloadRefused as exc:
        with session_scope() as session:
            services.refuse_download(session, recording_sid, str(exc), clock.now())
        return
    except download.DownloadFailed as exc:
        logger.warning(
            "download failed recording_sid=%s attempt=%d: %s", recording_sid, plan.attempt, exc
        )
        with session_scope() as session:
            services.note_download_failure(session, recording_sid, str(exc))
        raise
    with session_scope() as session:
        policy = services.mark_stored(session, recording_sid, stored, clock.now())
        transcription_jobs.schedule_transcription(session, recording_sid)
        if policy.delete_at_twilio_after_store:
            schedule_deletion(session, recording_sid)
    logger.info("stored recording_sid=%s bytes=%d", recording_sid, stored.size)


def schedule_deletion(session: Session, recording_sid: str) -> None:
    """Delete Twilio's copy once ``session`` (which recorded the pending deletion) commits."""
    after_commit(
        session, delete_at_twilio, recording_sid, job_id=f"delete-recording-{recording_sid}"
    )


def delete_at_twilio(recording_sid: str) -> None:
    """Delete Twilio's copy of a recording (one made without consent, or one we have stored).
    A failure is noted on the pending deletion and raised, so RQ retries; the reconciler
    starts it again until Twilio confirms."""
    try:
        get_adapter(current_settings()).delete_recording(recording_sid)
    except Exception as exc:
        with session_scope() as session:
            services.note_deletion_failure(session, recording_sid, repr(exc))
        raise
    with session_scope() as session:
        services.mark_deleted_at_twilio(session, recording_sid, clock.now())
    logger.info("deleted recording at twilio recording_sid=%s", recording_sid)


def reconcile_deletions(older_than_s: int = 60) -> int:
    """Start the deletion of every recording Twilio still holds that must go (a lost job, a
    Twilio outage, Redis away when the callback came)."""
    with session_scope() as session:
        sids = services.pending_deletions(session, clock.now() - timedelta(seconds=older_than_s))
        for sid in sids:
            schedule_deletion(session, sid)
    if sids:
        logger.info("twilio deletions re-enqueued recording_sids=%s", sids)
    return len(sids)


def purge_expired_audio(practice_id: int) -> int:
    """Delete a practice's audio older than its retention; returns how many were deleted."""
    store = store_for(current_settings())
    deleted = 0
    with session_scope() as session:
        for rec in services.expired_audio(session, practice_id, clock.now()):
            if rec.stored_path is not None:
                store.delete(Path(rec.stored_path))
            services.mark_audio_deleted(session, rec, clock.now())
            deleted += 1
            logger.info("retention deleted audio recording_sid=%s", rec.recording_sid)
    return deleted


def enqueue_retention() -> int:
    """One retention job per practice (run daily from cron or the CLI)."""
    with session_scope() as session:
        ids = list(session.scalars(select(Practice.id)))
        for practice_id in ids:
            after_commit(
                session, purge_expired_audio, practice_id, job_id=f"retention-{practice_id}"
            )
    return len(ids)


def reconcile_downloads(older_than_s: int = 600) -> int:
    """Re-enqueue downloads the database says are due (a lost Redis loses no work)."""
    with session_scope() as session:
        sids = services.pending_downloads(session, clock.now() - timedelta(seconds=older_than_s))
        for sid in sids:
            enqueue_download(session, sid)
    return len(sids)
