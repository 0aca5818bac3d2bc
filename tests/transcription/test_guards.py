"""The Whisper engine's guards, on made-up signals and word lists: where a channel has speech,
windows cut at silences, repetition loops and skipped speech, written words as spoken words."""

from __future__ import annotations

import numpy as np

from transcription import segments
from transcription.engines import Word
from transcription.text import spoken
from transcription.whisper_engine import looped_words, skipped_seconds

RATE = 16000


def _signal(pattern: list[tuple[float, bool]], noise_db: float = -70.0) -> np.ndarray:
    """Stretches of a loud vowel-like tone (True) or faint noise (False), in seconds."""
    rng = np.random.default_rng(3)
    pieces = []
    for seconds, loud in pattern:
        n = int(seconds * RATE)
        t = np.arange(n) / RATE
        noise = rng.normal(0.0, 10 ** (noise_db / 20), n)
        tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        pieces.append((tone if loud else 0) + noise)
    return np.concatenate(pieces).astype(np.float32)


def test_speech_regions_follow_the_energy_with_padding() -> None:
    samples = _signal([(2.0, False), (1.5, True), (0.5, False), (1.0, True), (4.0, False)])
    regions = segments.speech_regions(samples, RATE)
    # The half-second pause stays inside one region; padding of a quarter second each side.
    assert len(regions) == 1
    assert abs(regions[0].start_s - (2.0 - segments.PAD_S)) < 0.1
    assert abs(regions[0].end_s - (5.0 + segments.PAD_S)) < 0.35
    assert segments.speech_regions(_signal([(10.0, False)], noise_db=-45.0), RATE) == []
    assert segments.speech_regions(np.zeros(RATE * 5, dtype=np.float32), RATE) == []


def test_windows_are_cut_in_silences_and_lose_no_sample() -> None:
    pattern = [(1.0, False)] + [(2.2, True), (0.9, False)] * 8
    samples = _signal(pattern)
    pcm = (samples * 32768).astype("<i2").tobytes()
    chunks = [pcm[i : i + 8001] for i in range(0, len(pcm), 8001)]  # odd sizes on purpose
    windows = list(segments.windows(chunks, RATE, window_s=8.0))
    assert len(windows) >= 3
    assert sum(len(w) for _, w in windows) == len(samples)
    for offset, window in windows[:-1]:
        assert len(window) <= 8 * RATE
        cut = offset + len(window) / RATE  # a cut must fall in a pause of the pattern
        position, in_pause = 0.0, False
        for seconds, loud in pattern:
            if position <= cut < position + seconds:
                in_pause = not loud
            position += seconds
        assert in_pause, cut


def test_repetition_loops_are_found_and_digit_strings_are_not_loops() -> None:
    assert looped_words(["zero"] * 40) == 39
    sentence = ["see", "you", "on", "monday"]
    assert looped_words(["okay", *sentence * 3, "bye"]) == 8  # said twice too many
    assert looped_words(spoken("310-555-0142, and the code is 7294-8163.").split()) == 0
    assert looped_words(["no", "no", "i", "said", "tuesday"]) == 0


def test_speech_energy_left_without_words_is_a_skip() -> None:
    energetic = np.zeros(500, dtype=bool)  # 10 s of 20 ms frames
    energetic[50:400] = True  # speech from 1 s to 8 s
    words = [Word("hello", 1.0, 1.4, 0.9), Word("there", 1.4, 1.8, 0.9)]
    assert 5.5 <= skipped_seconds(words, energetic) <= 6.0
    covering = [Word(f"w{i}", 1.0 + i * 0.5, 1.4 + i * 0.5, 0.9) for i in range(14)]
    assert skipped_seconds(covering, energetic) == 0.0


def test_written_forms_become_spoken_words() -> None:
    assert spoken("Glow Aesthetics,") == "glow aesthetics"
    assert spoken("It is March 4th, 1990.") == "it is march fourth nineteen ninety"
    assert spoken("I have 1030 or 11:15, $50 off, 20%.") == (
        "i have ten thirty or eleven fifteen fifty dollars off twenty percent"
    )
    assert spoken("Call (310) 555-0142.") == "call three one zero five five five zero one four two"
    assert spoken("o'clock") == "o'clock"
