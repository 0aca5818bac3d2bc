"""Recognition of synthesized calls with the bundled PocketSphinx, speaker turns, Vosk errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.speech import COORDINATOR, PATIENT, SynthCall
from transcription.audio import channel_pcm, channel_speakers, read_wav_info
from transcription.engines import TELEPHONE_OPTIONS, Engine, PocketSphinxEngine, Word, load_engine
from transcription.errors import TranscriptionError
from transcription.turns import merge_turns, speaker_turns, wer, word_errors
from transcription.vocabulary import build_vocabulary, normalize_sentence, number_words

# Measured with this suite's short call (8 kHz through mu-law, Festival voices, the shipped
# engine): 1 error in 19 patient words, 8 in 19 coordinator words, 24% overall; over the twelve
# held-out calls of bench/transcription.py the same pipeline averages 36%. A bound of 45%
# leaves room for other Festival or PocketSphinx builds and still fails on the real breakages:
# swapped channels measured 97% here, channels not resampled to 16 kHz 95%.
MAX_CALL_WER = 0.45
MAX_SPEAKER_WER = 0.6


def _recognize_call(engine: Engine, call: SynthCall) -> dict[str, list[Word]]:
    info = read_wav_info(call.path)
    return {
        speaker: engine.recognize(channel_pcm(info, channel, engine.sample_rate))
        for channel, speaker in enumerate(channel_speakers(info.channels))
    }


@pytest.fixture(scope="session")
def call_words(engine: Engine, short_call: SynthCall) -> dict[str, list[Word]]:
    """The short call recognized channel by channel, once for the session."""
    return _recognize_call(engine, short_call)


def test_turns_alternate_with_the_right_speaker_in_order(
    call_words: dict[str, list[Word]], short_call: SynthCall
) -> None:
    turns = merge_turns(call_words)
    assert [t.speaker for t in turns] == [line.speaker for line in short_call.lines]
    for turn, line in zip(turns, short_call.lines, strict=True):
        assert abs(turn.start_s - line.start_s) < 0.6, (turn, line)
        assert abs(turn.end_s - line.end_s) < 0.6, (turn, line)
        assert turn.text == " ".join(w.text for w in turn.words)


def test_word_timings_increase_within_each_channel(call_words: dict[str, list[Word]]) -> None:
    for words in call_words.values():
        assert words
        for earlier, later in zip(words, words[1:], strict=False):
            assert earlier.start_s < earlier.end_s <= later.start_s + 1e-6
        assert all(0.0 <= w.confidence <= 1.0 for w in words)
        assert min(w.confidence for w in words) < 0.9  # posteriors, not a constant


def test_word_error_rate_against_the_script(
    call_words: dict[str, list[Word]], short_call: SynthCall
) -> None:
    errors = words = 0
    for speaker in (PATIENT, COORDINATOR):
        reference = short_call.reference(speaker)
        hypothesis = " ".join(w.text for w in call_words[speaker])
        assert wer(reference, hypothesis) < MAX_SPEAKER_WER, (speaker, reference, hypothesis)
        errors += word_errors(reference.split(), hypothesis.split())
        words += len(reference.split())
    assert errors / words < MAX_CALL_WER


def test_speech_running_to_the_end_of_the_channel_is_recognized(
    engine: Engine, short_call: SynthCall
) -> None:
    first = short_call.lines[0]
    info = read_wav_info(short_call.path)
    pcm = b"".join(channel_pcm(info, 0, engine.sample_rate))
    cut = int((first.start_s + first.end_s) / 2 * engine.sample_rate) * 2  # mid-sentence
    words = engine.recognize([pcm[:cut]])
    assert [w.text for w in words[:4]] == ["hello", "i", "would", "like"]
    assert words[-1].end_s <= cut / 2 / engine.sample_rate + 0.01


def test_long_utterances_are_cut_and_keep_their_timing(
    call_words: dict[str, list[Word]], short_call: SynthCall
) -> None:
    sphinx = PocketSphinxEngine(options=TELEPHONE_OPTIONS, max_utterance_s=2.5)
    words = _recognize_call(sphinx, short_call)
    for speaker, recognized in words.items():
        spoken = [line for line in short_call.lines if line.speaker == speaker]
        for word in recognized:
            assert any(line.start_s - 0.1 <= word.start_s < line.end_s for line in spoken), word
        errors = word_errors([w.text for w in call_words[speaker]], [w.text for w in recognized])
        assert errors <= len(call_words[speaker]) // 2  # cut words may change, most stay


def test_the_engine_is_loaded_once_per_process(engine: Engine) -> None:
    assert load_engine(None) is engine
    assert isinstance(engine, PocketSphinxEngine) and engine.sample_rate == 16000


def test_silence_gives_no_words(engine: Engine) -> None:
    assert engine.recognize([bytes(32000)] * 3) == []
    assert engine.recognize([]) == []


def test_terms_missing_from_the_dictionary_are_added() -> None:
    vocabulary = build_vocabulary(terms={"Botulinum": "B AA CH AH L AY N AH M"})
    sphinx = PocketSphinxEngine(vocabulary)
    decoder = sphinx._decoder  # the dictionary is only reachable through the decoder
    assert decoder.lookup_word("juvederm") == "JH UW V AH D ER M"
    assert decoder.lookup_word("botulinum") == "B AA CH AH L AY N AH M"


def test_missing_vosk_model_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "vosk-model-en-us-0.22"
    with pytest.raises(TranscriptionError, match="vosk-model-en-us-0.22.*does not exist"):
        load_engine(str(missing))


def test_directory_that_is_not_a_vosk_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"\0" * 64)
    with pytest.raises(TranscriptionError, match=f"{tmp_path}.*not a Vosk model"):
        load_engine(str(tmp_path))
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "model.conf").write_text("--min-active=200\n")
    with pytest.raises(TranscriptionError, match="no decoding graph"):
        load_engine(str(tmp_path))


def test_corrupt_vosk_model_gives_a_clear_error(tmp_path: Path) -> None:
    for name in ("am/final.mdl", "conf/model.conf", "conf/mfcc.conf", "graph/HCLG.fst"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"not a kaldi file\n" * 8)
    with pytest.raises(TranscriptionError, match=f"could not load the model in {tmp_path}"):
        load_engine(str(tmp_path))


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


def test_phrases_and_templates_are_normalized_like_recognizer_output() -> None:
    assert number_words(250) == "two hundred fifty"
    assert normalize_sentence("See you at {practice_name} on May 3 at 2:30, 20% off!") == (
        "see you at on may three at two thirty twenty percent off"
    )
