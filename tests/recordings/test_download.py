"""Downloading recordings: only from Twilio's API host, capped, timed out, retried, encrypted."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.jobs import DEFAULT, TRANSCRIPTION
from contact_center.models import TwilioRequest
from contact_center.settings import TWILIO_API_BASE, Settings
from contact_center.simulator import Answer, Caller, DialPlan, TwilioSimulator, new_sid
from ivr.models import Call, CallEvent
from recordings import download
from recordings.jobs import download_recording
from recordings.models import Recording, StorageState
from recordings.storage import RecordingStore
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.factories import make_coordinator, make_practice
from tests.recordings.media_server import MediaStandIn, installed, serving, tone_wav
from tests.recordings.test_recording_callbacks import recording_form

KEY = "0f" * 32
PATIENT = "+13105550142"
TWILIO_MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings"


@pytest.fixture
def media(client: object, tmp_path: Path) -> Iterator[MediaStandIn]:
    """The stand-in for Twilio's host, with the worker's settings pointed at it."""
    with (
        serving(ACCOUNT_SID, AUTH_TOKEN) as state,
        installed(
            twilio_api_base=state.base,
            recordings_key=KEY,
            recordings_dir=tmp_path / "rec",
            recording_max_bytes=64 * 1024,
        ),
    ):
        yield state


def run_queue(redis: Redis, name: str = DEFAULT) -> None:
    """A burst worker on one queue (the download queue, without running transcription)."""
    SimpleWorker([Queue(name, connection=redis)], connection=redis).work(burst=True)


def consented_call(session: Session, twilio: TwilioSimulator) -> tuple[str, str]:
    practice = make_practice(session)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="1")], dials=[DialPlan()])
    )
    return sim.call_sid, sim.recordings[0]["RecordingSid"]


def recording(session: Session, recording_sid: str) -> Recording:
    session.expire_all()
    return session.scalars(select(Recording).where(Recording.recording_sid == recording_sid)).one()


def test_consented_recording_is_stored_encrypted_then_queued_for_transcription(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn, tmp_path: Path
) -> None:
    media.default_media = wav = tone_wav(1.0)
    _, sid = consented_call(session, twilio)

    run_queue(redis)

    rec = recording(session, sid)
    assert rec.storage_state is StorageState.STORED and rec.download_attempts == 1
    assert rec.size_bytes == len(wav) and rec.sha256 == hashlib.sha256(wav).hexdigest()
    stored = Path(rec.stored_path or "")
    assert stored.parent.parent == tmp_path / "rec"
    on_disk = stored.read_bytes()
    assert b"RIFF" not in on_disk and wav[44:100] not in on_disk  # encrypted at rest
    assert b"".join(RecordingStore(tmp_path / "rec", KEY).read(stored, sid, rec.sha256)) == wav
    # Fetched once, from the stand-in playing api.twilio.com, with the account's credentials,
    # as the dual-channel file.
    assert [(s.path, s.query, s.authorized) for s in media.seen] == [
        (f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.wav", "RequestedChannels=2", True)
    ]
    transcription = Queue(TRANSCRIPTION, connection=redis)
    assert transcription.job_ids == [f"transcribe-{sid}"]

    download_recording(sid)  # a second run changes nothing and fetches nothing
    assert len(media.seen) == 1 and recording(session, sid).download_attempts == 1


def test_no_consent_means_no_download(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn
) -> None:
    media.default_media = tone_wav(0.5)
    practice = make_practice(session)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT, practice.phone_number, Caller(answers=[Answer(digits="2")], dials=[DialPlan()])
    )
    rogue = new_sid("RE")
    assert (
        twilio.post(
            "/twilio/recordings/status?source=call", recording_form(twilio, sim.call_sid, rogue)
        )[0]
        == 200
    )

    run_queue(redis)

    assert media.seen == []
    assert session.scalars(select(Recording)).all() == []
    deletes = session.scalars(select(TwilioRequest).where(TwilioRequest.method == "DELETE")).all()
    assert [d.url.rsplit("/", 1)[1] for d in deletes] == [f"{rogue}.json"]


@pytest.mark.parametrize(
    "forged",
    [
        "https://evil.example.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com@evil.example.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com.evil.example.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "http://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com:8443/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "{standin}/2010-04-01/Accounts/{account}/Recordings/{sid}",
        "https://api.twilio.com/2010-04-01/Accounts/AC" + "9" * 32 + "/Recordings/{sid}",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE" + "9" * 32,
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/../../Calls/{sid}",
        "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{sid}/../../../x",
        "file:///etc/passwd",
        "",
    ],
)
def test_recording_url_on_any_other_host_is_refused_and_never_fetched(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn, forged: str
) -> None:
    media.default_media = tone_wav(0.5)
    practice = make_practice(session)
    make_coordinator(session, practice)
    sim = twilio.call(
        PATIENT,
        practice.phone_number,
        Caller(
            answers=[Answer(digits="1")], dials=[DialPlan("no-answer", 0), DialPlan("no-answer", 0)]
        ),
    )
    sid = new_sid("RE")
    call = session.scalars(select(Call).where(Call.call_sid == sim.call_sid)).one()
    form = recording_form(twilio, sim.call_sid, sid)
    form["RecordingUrl"] = forged.format(account=ACCOUNT_SID, sid=sid, standin=media.base)
    assert twilio.post("/twilio/recordings/status?source=call", form)[0] == 200

    run_queue(redis)

    assert media.seen == []  # no request left for any host
    rec = recording(session, sid)
    assert rec.storage_state is StorageState.REFUSED and rec.stored_path is None
    event = session.scalars(
        select(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "compliance")
    ).one()
    assert event.detail["problem"] == "recording_download_refused"
    assert Queue(TRANSCRIPTION, connection=redis).count == 0


def test_the_fetch_origin_comes_from_settings_and_production_allows_only_twilio(
    settings: Settings,
) -> None:
    prod = settings.with_overrides(env="production")
    assert download.api_base(prod) == TWILIO_API_BASE
    with pytest.raises(download.DownloadRefused, match="production"):
        download.api_base(prod.with_overrides(twilio_api_base="http://127.0.0.1:9999"))
    with pytest.raises(download.DownloadRefused, match="https"):
        download.api_base(settings.with_overrides(twilio_api_base="http://10.0.0.5"))
    assert download.api_base(settings.with_overrides(twilio_api_base="http://127.0.0.1:1/")) == (
        "http://127.0.0.1:1"
    )
    sid = "RE" + "a" * 32
    url = download.media_url(
        f"{TWILIO_MEDIA}/{sid}.json?Foo=bar",
        recording_sid=sid,
        account_sid=ACCOUNT_SID,
        base="http://127.0.0.1:1",
        channels=1,
    )
    assert url == f"http://127.0.0.1:1/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.wav"


@pytest.mark.parametrize("declare_length", [True, False])
def test_oversized_recording_is_refused_and_nothing_is_kept(
    session: Session,
    twilio: TwilioSimulator,
    redis: Redis,
    media: MediaStandIn,
    tmp_path: Path,
    declare_length: bool,
) -> None:
    media.default_media = tone_wav(5.0)  # 160 kB, over the 64 kB cap of the fixture
    media.declare_length = declare_length
    _, sid = consented_call(session, twilio)

    run_queue(redis)

    rec = recording(session, sid)
    assert rec.storage_state is StorageState.REFUSED
    assert "cap" in (rec.last_download_error or "")
    assert [p for p in (tmp_path / "rec").rglob("*") if p.is_file()] == []
    assert Queue(TRANSCRIPTION, connection=redis).count == 0


def test_a_body_that_is_not_wav_is_refused(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn
) -> None:
    media.default_media = b"<html><body>Sign in</body></html>"
    _, sid = consented_call(session, twilio)
    run_queue(redis)
    assert recording(session, sid).storage_state is StorageState.REFUSED


def test_a_redirect_off_twilio_is_refused_before_credentials_leave(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn
) -> None:
    media.redirect_to = "http://169.254.169.254/latest/meta-data/"
    _, sid = consented_call(session, twilio)
    run_queue(redis)
    rec = recording(session, sid)
    assert rec.storage_state is StorageState.REFUSED and "redirect" in (
        rec.last_download_error or ""
    )
    assert len(media.seen) == 1


def test_failed_download_is_retried_with_backoff_and_then_stored(
    session: Session, twilio: TwilioSimulator, redis: Redis, media: MediaStandIn
) -> None:
    media.default_media = tone_wav(0.5)
    media.fail_next = 1
    _, sid = consented_call(session, twilio)
    queue = Queue(DEFAULT, connection=redis)

    run_queue(redis)  # attempt 1: HTTP 503

    rec = recording(session, sid)
    assert rec.storage_state is StorageState.PENDING and rec.download_attempts == 1
    assert rec.last_download_error == "HTTP 503 from 127.0.0.1"
    scheduled = ScheduledJobRegistry(queue=queue)
    job_id = f"download-recording-{sid}"
    assert job_id in scheduled.get_job_ids()
    job = queue.fetch_job(job_id)
    assert job is not None and job.retries_left == 3 and job.retry_intervals == [30, 120, 600, 3600]
    # Time passes: make the retry due and let the scheduler enqueue it, as a worker would.
    redis.zadd(scheduled.key, {job_id: 0})
    scheduler = RQScheduler([queue], connection=redis)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()

    run_queue(redis)  # attempt 2

    rec = recording(session, sid)
    assert rec.storage_state is StorageState.STORED and rec.download_attempts == 2
    assert rec.last_download_error is None
    assert len(media.seen) == 2 and FailedJobRegistry(queue=queue).count == 0


def test_slow_or_unauthorized_media_fails_transiently(media: MediaStandIn) -> None:
    sid = "RE" + "b" * 32
    media.media[sid] = tone_wav(0.2)
    url = f"{media.base}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.wav"
    with pytest.raises(download.DownloadFailed, match="HTTP 401"):
        list(download.fetch_media(url, (ACCOUNT_SID, "wrong"), max_bytes=10**6))
    media.stall_s = 1.0
    with pytest.raises(download.DownloadFailed):
        list(
            download.fetch_media(
                url, (ACCOUNT_SID, AUTH_TOKEN), max_bytes=10**6, read_timeout_s=0.2
            )
        )


def test_sandbox_without_a_stand_in_skips_the_download(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    _, sid = consented_call(session, twilio)
    run_queue(redis)
    rec = recording(session, sid)
    assert rec.storage_state is StorageState.SKIPPED and rec.download_attempts == 1
    assert Queue(TRANSCRIPTION, connection=redis).count == 0
