"""Merge the words of each channel into speaker turns, and measure word error rate."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from transcription.engines import Word
from transcription.text import spoken_words

logger = logging.getLogger(__name__)

TURN_GAP_S = 1.0


@dataclass(frozen=True)
class Turn:
    """What one speaker said without a long pause, with its span on the call's timeline."""

    speaker: str
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]
    language: str | None = None  # the speaker's channel language ("en", "es"), when known


def speaker_turns(
    words: Sequence[Word], speaker: str, gap_s: float = TURN_GAP_S, language: str | None = None
) -> list[Turn]:
    """Group one speaker's words into turns, starting a new turn after a pause over gap_s."""
    ordered = sorted(words, key=lambda w: (w.start_s, w.end_s))
    turns: list[Turn] = []
    current: list[Word] = []
    for word in ordered:
        if current and word.start_s - current[-1].end_s > gap_s:
            turns.append(_turn(speaker, current, language))
            current = []
        current.append(word)
    if current:
        turns.append(_turn(speaker, current, language))
    return turns


def _turn(speaker: str, words: Sequence[Word], language: str | None) -> Turn:
    return Turn(
        speaker=speaker,
        start_s=words[0].start_s,
        end_s=max(w.end_s for w in words),
        text=" ".join(w.text for w in words),
        words=tuple(words),
        language=language,
    )


def merge_turns(
    words_by_speaker: Mapping[str, Sequence[Word]],
    gap_s: float = TURN_GAP_S,
    languages: Mapping[str, str | None] | None = None,
) -> list[Turn]:
    """Interleave every speaker's turns by start time (ties: the earlier end first).

    Overlapping speech stays as separate, overlapping turns: each channel is one speaker, so
    nothing is gained by cutting one speaker's turn around the other's interruption.
    """
    turns = [
        turn
        for speaker, words in words_by_speaker.items()
        for turn in speaker_turns(words, speaker, gap_s, (languages or {}).get(speaker))
    ]
    return sorted(turns, key=lambda t: (t.start_s, t.end_s, t.speaker))


def word_errors(reference: Iterable[str], hypothesis: Iterable[str]) -> int:
    """Count substitutions, deletions and insertions turning reference into hypothesis."""
    ref = list(reference)
    hyp = list(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the number of reference words, both
    reduced to spoken words first (case, punctuation and "10:30" vs "ten thirty" do not count).
    """
    ref = spoken_words(reference)
    hyp = spoken_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)
