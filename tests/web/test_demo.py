"""The run command's demo: console logins and a day of sample activity, seeded once.

The sample calls carry real synthesized audio, stored encrypted like a downloaded recording, and
transcripts whose word timings fall where the words are said in that audio.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import auth, demo, runtime
from contact_center.db import utcnow
from contact_center.messaging.models import Conversation
from contact_center.web.demo_data import DEMO_CALLS, DEMO_PASSWORD, demo_audio
from ivr.models import Call
from qa.models import CallOutcome, CallScore, Criterion, CriterionResult
from qa.scoring import normalize
from recordings.models import Recording, StorageState
from recordings.storage import store_for
from routing.models import CallbackTask
from tests.recordings.media_server import installed
from tests.web.conftest import log_in
from transcription.audio import read_wav_info
from transcription.models import Transcript
from transcription.services import load_turns

KEY = "5d" * 32


@pytest.fixture
def recordings_key(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings with a recordings key, for the seeding (worker side) and the console alike."""
    overrides = {"recordings_dir": tmp_path / "recordings", "recordings_key": KEY}
    keyed = runtime.current_settings().with_overrides(**overrides)
    monkeypatch.setitem(app.extensions, "contact_center.settings", keyed)
    with installed(**overrides):
        yield


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def demo_recordings(session: Session) -> list[Recording]:
    return list(session.scalars(select(Recording).order_by(Recording.recording_sid)))


@pytest.mark.usefixtures("recordings_key")
def test_demo_seed_gives_logins_and_sample_data_once(app: Flask, session: Session) -> None:
    assert demo.seed(session, utcnow()).startswith("demo practice created")
    for email in ("ava@glow.example", "quinn@glow.example", "adele@glow.example"):
        assert auth.authenticate(session, email, DEMO_PASSWORD) is not None
    models = (Call, Recording, Transcript, CallScore, CallOutcome, CallbackTask, Conversation)
    seeded = {model: count(session, model) for model in models}
    demo.seed(session, utcnow())  # the run command seeds on every start
    assert {model: count(session, model) for model in models} == seeded
    calls = len(DEMO_CALLS)
    assert seeded[Call] == seeded[Recording] == seeded[Transcript] == calls
    assert seeded[CallScore] == seeded[CallOutcome] == calls
    assert seeded[CallbackTask] == 1 and seeded[Conversation] == 2
    opted = session.scalars(select(Conversation).where(Conversation.opted_out_at.is_not(None)))
    assert len(opted.all()) == 1
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "adele@glow.example" in page and DEMO_PASSWORD in page  # sandbox mode shows them


def test_packaged_audio_was_made_from_the_current_scripts() -> None:
    for call in DEMO_CALLS:
        audio = demo_audio(call.audio)
        assert [(line.speaker, line.text) for line in audio.lines] == list(call.lines), (
            f"{call.audio}: rerun scripts/make-demo-audio.py after changing its script"
        )
        assert 15 < audio.duration_s < 35
        starts = [line.start_s for line in audio.lines]
        assert starts == sorted(starts)
        assert all(0 <= line.start_s < line.end_s <= audio.duration_s for line in audio.lines)


@pytest.mark.usefixtures("recordings_key")
def test_demo_recordings_are_stored_like_downloads_and_transcripts_follow_the_audio(
    session: Session,
) -> None:
    demo.seed(session, utcnow())
    store = store_for(runtime.current_settings())
    recordings = demo_recordings(session)
    assert len(recordings) == len(DEMO_CALLS)
    for rec, call in zip(recordings, DEMO_CALLS, strict=True):
        audio = demo_audio(call.audio)
        assert rec.storage_state is StorageState.STORED and rec.stored_at is not None
        assert rec.stored_path is not None and rec.download_attempts == 1
        assert rec.last_download_error is None
        assert (rec.channels, rec.duration_s) == (2, round(audio.duration_s))
        assert Path(rec.stored_path).read_bytes()[:6] == b"CCREC1"  # encrypted at rest
        with store.plaintext_copy(Path(rec.stored_path), rec.recording_sid, rec.sha256) as wav:
            assert wav.read_bytes() == audio.wav
            info = read_wav_info(wav)
        assert (info.channels, info.sample_rate) == (2, 8000)
        assert info.duration_s == pytest.approx(audio.duration_s, abs=0.01)
        assert rec.size_bytes == len(audio.wav)

        transcript = session.scalars(
            select(Transcript).where(Transcript.recording_id == rec.id)
        ).one()
        assert transcript.audio_s == pytest.approx(info.duration_s, abs=0.01)
        turns = load_turns(session, transcript.id)
        assert [t.start_s for t in turns] == sorted(t.start_s for t in turns)
        for speaker in ("patient", "coordinator"):
            words = [w for t in turns if t.speaker == speaker for w in t.words]
            spoken = " ".join(
                normalize(line.text) for line in audio.lines if line.speaker == speaker
            )
            assert " ".join(w.text for w in words) == spoken
            assert all(0 <= w.start_s < w.end_s <= info.duration_s for w in words)
            assert all(a.end_s <= b.start_s for a, b in zip(words, words[1:], strict=False))
            # Every word lies within the line it belongs to, where the voice is heard.
            spans = [
                (line.start_s, line.end_s)
                for line in audio.lines
                if line.speaker == speaker
                for _ in normalize(line.text).split()
            ]
            assert all(
                s <= w.start_s and w.end_s <= e + 0.001
                for w, (s, e) in zip(words, spans, strict=True)
            )


@pytest.mark.usefixtures("recordings_key")
def test_demo_scores_meet_some_criteria_and_miss_others_with_evidence_in_the_audio(
    session: Session,
) -> None:
    demo.seed(session, utcnow())
    results: dict[str, dict[str, CriterionResult]] = {}
    for rec, call in zip(demo_recordings(session), DEMO_CALLS, strict=True):
        score = session.scalars(select(CallScore).where(CallScore.call_id == rec.call_id)).one()
        rows = session.execute(
            select(Criterion.key, CriterionResult)
            .join(CriterionResult, CriterionResult.criterion_id == Criterion.id)
            .where(CriterionResult.call_score_id == score.id)
        ).all()
        results[call.audio] = {key: result for key, result in rows}
        audio = demo_audio(call.audio)
        for result in results[call.audio].values():
            for ev in result.evidence:  # the QA page seeks to ev.start_s
                said = [
                    line
                    for line in audio.lines
                    if line.speaker == ev["speaker"] and line.start_s <= ev["start_s"] < line.end_s
                ]
                assert said and ev["text"] in normalize(said[0].text), ev
    met = {name: {k for k, r in rows.items() if r.met} for name, rows in results.items()}
    missed = {
        name: {k for k, r in rows.items() if r.met is False} for name, rows in results.items()
    }
    for name in met:
        assert {
            "greeting_practice",
            "coordinator_name",
            "patient_name",
            "offered_time",
            "no_clinical_advice",
            "no_pressure",
        } <= met[name]
    assert missed["maya-consultation"] == {"recording_disclosure"}
    assert {"asked_goal", "next_steps", "warm_close"} <= missed["jordan-reschedule"]
    assert "recording_disclosure" in met["jordan-reschedule"]
    assert {"asked_goal", "next_steps", "recording_disclosure"} <= missed["sofia-pricing"]
    assert {"asked_goal", "next_steps", "set_expectations", "warm_close"} <= met[
        "maya-consultation"
    ]


@pytest.mark.usefixtures("recordings_key")
def test_a_qa_lead_plays_a_demo_recording_in_the_console(
    session: Session, client: FlaskClient
) -> None:
    demo.seed(session, utcnow())
    rec = demo_recordings(session)[0]
    call = session.get_one(Call, rec.call_id)
    log_in(client, "quinn@glow.example", DEMO_PASSWORD)
    page = client.get(f"/p/{call.practice_id}/calls/{call.id}").get_data(as_text=True)
    match = re.search(r'<audio id="player"[^>]* src="([^"]+)"', page)
    assert match, "the call page has no audio player"
    wav = demo_audio(DEMO_CALLS[0].audio).wav
    response = client.get(match.group(1))
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(wav))
    assert response.get_data() == wav
    # The player seeks with ranges: evidence links jump into the middle of the call.
    middle = client.get(match.group(1), headers={"Range": "bytes=100000-165535"})
    assert middle.status_code == 206
    assert middle.headers["Content-Range"] == f"bytes 100000-165535/{len(wav)}"
    assert middle.get_data() == wav[100000:165536]
    tail = client.get(match.group(1), headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.get_data() == wav[-10:]


def test_without_a_recordings_key_the_demo_recordings_stay_pending(session: Session) -> None:
    demo.seed(session, utcnow())
    recordings = demo_recordings(session)
    assert len(recordings) == len(DEMO_CALLS)
    assert all(r.storage_state is StorageState.PENDING for r in recordings)
    assert count(session, Transcript) == len(DEMO_CALLS)
