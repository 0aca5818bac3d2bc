"""Recognition of synthesized calls with the built-in Whisper engine, speaker turns, Vosk errors.

One Whisper model is loaded for the whole session (the ``speech_engine`` fixture) and every
call here is short: the whole file costs about a minute on two busy cores.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.speech import COORDINATOR, PATIENT, Line, SynthCall, build_call
from transcription import segments
from transcription.audio import channel_pcm, channel_speakers, read_wav_info
from transcription.engines import Engine, Word, load_engine
from transcription.errors import TranscriptionError
from transcription.jobs import engine_config
from transcription.pipeline import ChannelResult, transcribe_channels
from transcription.text import spoken, spoken_words
from transcription.turns import merge_turns, speaker_turns, wer, word_errors
from transcription.whisper_engine import WhisperEngine

# Whisper base on this suite's short call (8 kHz through mu-law, Festival voices) measured 0
# errors in 38 words; the bound for the product is 10%.
MAX_CALL_WER = 0.10
MAX_SPEAKER_WER = 0.15


def _recognize_call(speech_engine: Engine, call: SynthCall) -> list[ChannelResult]:
    info = read_wav_info(call.path)
    return transcribe_channels(speech_engine, info, channel_speakers(info.channels))


def _words(results: list[ChannelResult]) -> dict[str, list[Word]]:
    return {c.speaker: c.words for c in results}


@pytest.fixture(scope="session")
def call_words(speech_engine: Engine, short_call: SynthCall) -> dict[str, list[Word]]:
    """The short call recognized as the job does (both channels side by side), once."""
    return _words(_recognize_call(speech_engine, short_call))


def test_turns_alternate_with_the_right_speaker_in_order(
    call_words: dict[str, list[Word]], short_call: SynthCall
) -> None:
    turns = merge_turns(call_words)
    assert [t.speaker for t in turns] == [line.speaker for line in short_call.lines]
    for turn, line in zip(turns, short_call.lines, strict=True):
        assert abs(turn.start_s - line.start_s) < 0.6, (turn, line)
        # A Festival line ends with about half a second of silence: its span is a bit long.
        assert abs(turn.end_s - line.end_s) < 0.8, (turn, line)
        assert turn.text == " ".join(w.text for w in turn.words)


def test_word_timings_increase_within_each_channel(call_words: dict[str, list[Word]]) -> None:
    for words in call_words.values():
        assert words
        for earlier, later in zip(words, words[1:], strict=False):
            assert earlier.start_s < earlier.end_s <= later.start_s + 1e-6
        assert all(0.0 <= w.confidence <= 1.0 for w in words)
        assert len({w.confidence for w in words}) > 1  # probabilities, not a constant


def test_word_error_rate_against_the_script(
    call_words: dict[str, list[Word]], short_call: SynthCall
) -> None:
    errors = words = 0
    for speaker in (PATIENT, COORDINATOR):
        reference = short_call.reference(speaker)
        hypothesis = " ".join(w.text for w in call_words[speaker])
        assert wer(reference, hypothesis) <= MAX_SPEAKER_WER, (speaker, reference, hypothesis)
        errors += word_errors(spoken_words(reference), spoken_words(hypothesis))
        words += len(spoken_words(reference))
    assert errors / words <= MAX_CALL_WER


def test_punctuation_and_capitals_are_kept_for_display(
    call_words: dict[str, list[Word]],
) -> None:
    patient = [w.text for w in call_words[PATIENT]]
    assert patient[0] == "Hello,"  # as written, not "hello"
    assert any(text.endswith(".") for text in patient)
    assert "Tuesday" in " ".join(w.text for w in call_words[COORDINATOR])


def test_the_engine_is_loaded_once_per_process(speech_engine: Engine, settings: object) -> None:
    assert isinstance(speech_engine, WhisperEngine)
    assert load_engine(engine_config(settings)) is speech_engine  # type: ignore[arg-type]
    assert speech_engine.sample_rate == 16000 and speech_engine.model == "base"
    assert speech_engine.workers == 2 and speech_engine.threads == 1  # two channels side by side


def _noise(seconds: float, db: float, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, 32768 * 10 ** (db / 20), int(16000 * seconds))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def test_silence_and_faint_line_noise_give_no_words(speech_engine: Engine) -> None:
    assert speech_engine.transcribe([bytes(32000)] * 20).words == []
    assert speech_engine.transcribe([]).words == []
    for level_db in (-70.0, -55.0, -45.0):  # faint hiss, up to a noisy line
        result = speech_engine.transcribe([_noise(12.0, level_db)])
        assert result.words == [], level_db


# The patient gives a few short answers; the coordinator does most of the talking, so the
# patient's channel is about two thirds silence.
SHORT_ANSWERS = (
    Line(COORDINATOR, "Thank you for calling Glow Aesthetics, this is Ava. How can I help you?"),
    Line(PATIENT, "Hi, I need an appointment."),
    Line(COORDINATOR, "Of course. Is this for a consultation or for a treatment you have had?"),
    Line(PATIENT, "A consultation."),
    Line(COORDINATOR, "We have Thursday at four thirty or Friday at nine in the morning."),
    Line(PATIENT, "Friday, please."),
    Line(COORDINATOR, "You are booked for Friday at nine. You will get a text to confirm."),
    Line(PATIENT, "Thank you, bye."),
)


def _with_noise(call: SynthCall, out: Path, level_db: float) -> Path:
    """The call with faint white noise on both channels, as a phone line has."""
    with wave.open(str(call.path), "rb") as src:
        params = src.getparams()
        frames = np.frombuffer(src.readframes(params.nframes), dtype="<i2")
    rng = np.random.default_rng(11)
    noise = rng.normal(0.0, 32768 * 10 ** (level_db / 20), len(frames))
    noisy = np.clip(frames + noise, -32768, 32767).astype("<i2")
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(noisy.tobytes())
    return out


@pytest.mark.parametrize("noise_db", [None, -55.0])
def test_a_mostly_silent_channel_gets_no_words_where_nobody_spoke(
    speech_engine: Engine, speech_cache: Path, noise_db: float | None
) -> None:
    call = build_call(
        SHORT_ANSWERS, speech_cache / "short-answers.wav", speech_cache, 8000, telephone=True
    )
    patient_lines = [line for line in call.lines if line.speaker == PATIENT]
    spoken_s = sum(line.end_s - line.start_s for line in patient_lines)
    assert spoken_s / call.duration_s < 0.4  # 60% silence or more on the patient's channel
    path = call.path
    if noise_db is not None:
        path = _with_noise(call, speech_cache / "short-answers-noisy.wav", noise_db)
    info = read_wav_info(path)
    words = speech_engine.transcribe(channel_pcm(info, 0, speech_engine.sample_rate)).words
    inserted = [
        w
        for w in words
        if not any(
            line.start_s - 0.3 <= (w.start_s + w.end_s) / 2 <= line.end_s + 0.3
            for line in patient_lines
        )
    ]
    assert inserted == []
    assert wer(call.reference(PATIENT), " ".join(w.text for w in words)) <= 0.2


DIGITS = (
    Line(COORDINATOR, "Can I get a phone number and your date of birth?"),
    Line(
        PATIENT,
        "Sure, my number is three one zero, five five five, zero one four two, and I was "
        "born on March fourth, nineteen ninety.",
    ),
    Line(COORDINATOR, "And the confirmation code on your gift card?"),
    Line(PATIENT, "It is seven two nine four, eight one six three."),
)


def test_digit_strings_are_transcribed_in_full(speech_engine: Engine, speech_cache: Path) -> None:
    call = build_call(DIGITS, speech_cache / "digits.wav", speech_cache, 8000, telephone=True)
    words = _words(_recognize_call(speech_engine, call))
    said = spoken(" ".join(w.text for w in words[PATIENT]))
    assert "three one zero five five five zero one four two" in said, said
    assert "seven two nine four eight one six three" in said, said
    assert "march fourth nineteen ninety" in said, said


def test_windows_cut_at_silences_give_the_same_words_and_times(
    speech_engine: Engine, short_call: SynthCall, call_words: dict[str, list[Word]]
) -> None:
    assert isinstance(speech_engine, WhisperEngine)
    # Windows of 6 s: the short call's patient channel is decoded in three or four pieces.
    windowed = WhisperEngine(speech_engine.location, threads=1, window_s=6.0)
    info = read_wav_info(short_call.path)
    words = windowed.transcribe(channel_pcm(info, 0, 16000)).words
    whole = call_words[PATIENT]
    assert (
        word_errors(
            spoken_words(" ".join(w.text for w in whole)),
            spoken_words(" ".join(w.text for w in words)),
        )
        <= 2
    )
    for w in words:
        assert any(line.start_s - 0.3 <= w.start_s < line.end_s for line in short_call.lines)


SPANISH_PATIENT = (
    Line(PATIENT, "Hola, buenos días. Quisiera hacer una cita para el martes.", "es"),
    Line(COORDINATOR, "Of course. What time works best for you on Tuesday?"),
    Line(PATIENT, "Por la tarde, a las tres, por favor. Muchas gracias.", "es"),
    Line(COORDINATOR, "You are booked for Tuesday at three. Thank you for calling."),
)


@pytest.fixture(scope="session")
def spanish_call(
    speech_engine: Engine, speech_cache: Path
) -> tuple[SynthCall, list[ChannelResult]]:
    call = build_call(
        SPANISH_PATIENT, speech_cache / "spanish.wav", speech_cache, 8000, telephone=True
    )
    return call, _recognize_call(speech_engine, call)


def test_each_channel_is_transcribed_in_its_own_language(
    spanish_call: tuple[SynthCall, list[ChannelResult]],
) -> None:
    call, results = spanish_call
    by_speaker = {c.speaker: c for c in results}
    assert by_speaker[PATIENT].language == "es"
    assert by_speaker[COORDINATOR].language == "en"
    patient = spoken(" ".join(w.text for w in by_speaker[PATIENT].words))
    for word in ("hola", "cita", "martes", "gracias"):  # Spanish words, not a translation
        assert word in patient.split(), patient
    turns = merge_turns(_words(results), languages={c.speaker: c.language for c in results})
    assert {t.speaker: t.language for t in turns} == {PATIENT: "es", COORDINATOR: "en"}


def test_missing_vosk_model_directory_names_the_path(tmp_path: Path, settings: object) -> None:
    missing = tmp_path / "vosk-model-en-us-0.22"
    config = engine_config(settings)  # type: ignore[arg-type]
    with pytest.raises(TranscriptionError, match="vosk-model-en-us-0.22.*does not exist"):
        load_engine(config.__class__(vosk_model_path=str(missing)))


def test_directory_that_is_not_a_vosk_model_is_refused(tmp_path: Path) -> None:
    from transcription.engines import EngineConfig

    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"\0" * 64)
    with pytest.raises(TranscriptionError, match=f"{tmp_path}.*not a Vosk model"):
        load_engine(EngineConfig(vosk_model_path=str(tmp_path)))
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "model.conf").write_text("--min-active=200\n")
    with pytest.raises(TranscriptionError, match="no decoding graph"):
        load_engine(EngineConfig(vosk_model_path=str(tmp_path)))


def test_corrupt_vosk_model_gives_a_clear_error(tmp_path: Path) -> None:
    from transcription.engines import EngineConfig

    for name in ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLG.fst"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"not a kaldi file\n" * 8)
    with pytest.raises(TranscriptionError, match=f"could not load the model in {tmp_path}"):
        load_engine(EngineConfig(vosk_model_path=str(tmp_path)))


def _w(text: str, start: float, end: float) -> Word:
    return Word(text, start, end, 1.0)


def test_pauses_split_a_speakers_words_into_turns() -> None:
    words = [_w("hi", 0.0, 0.3), _w("there", 0.35, 0.7), _w("anyway", 2.0, 2.5)]
    turns = speaker_turns(words, PATIENT, gap_s=1.0)
    assert [(t.text, t.start_s, t.end_s) for t in turns] == [
        ("hi there", 0.0, 0.7),
        ("anyway", 2.0, 2.5),
    ]


def test_turns_interleave_by_time_and_overlaps_stay_separate() -> None:
    turns = merge_turns(
        {
            PATIENT: [_w("so", 0.0, 0.2), _w("about", 3.0, 3.4), _w("price", 3.5, 3.9)],
            COORDINATOR: [_w("yes", 1.0, 1.3), _w("sure", 3.2, 3.6)],
        }
    )
    assert [(t.speaker, t.text) for t in turns] == [
        (PATIENT, "so"),
        (COORDINATOR, "yes"),
        (PATIENT, "about price"),
        (COORDINATOR, "sure"),
    ]


def test_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    assert wer("book a consult today", "book a consult today") == 0.0
    assert wer("book a consult today", "look a consult") == 0.5
    assert wer("book today", "book it for today") == 1.0
    assert wer("", "") == 0.0
    # Written forms are not errors: punctuation, capitals, numbers as digits.
    assert wer("see you at ten thirty on march fourth", "See you at 10:30 on March 4th.") == 0.0


def test_a_window_whose_words_skip_speech_is_decoded_again(
    speech_engine: Engine, short_call: SynthCall, call_words: dict[str, list[Word]]
) -> None:
    """The re-decode path on the real model. A first decode cut short (two tokens, as when
    Whisper skips a stretch of a long call) leaves speech energy without words; the window is
    decoded again region by region, and the complete words are kept."""
    assert isinstance(speech_engine, WhisperEngine)
    info = read_wav_info(short_call.path)
    window = next(segments.windows(channel_pcm(info, 0, 16000), 16000, 600.0))[1]
    regions = segments.speech_regions(window, 16000)
    before = speech_engine.redecoded
    words = speech_engine._window(
        window, regions, "en", {"initial_prompt": None, "max_new_tokens": 2}
    )
    assert speech_engine.redecoded == before + 1
    whole = call_words[PATIENT]
    assert len(words) >= len(whole) - 2
    assert (
        word_errors(
            spoken_words(" ".join(w.text for w in whole)),
            spoken_words(" ".join(w.text for w in words)),
        )
        <= 2
    )
