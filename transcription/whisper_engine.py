"""Whisper through faster-whisper (CTranslate2, int8 on CPU): the built-in speech engine.

One model per worker process (``transcription.engines.load_engine``), shared by the two channels
of a call, which are decoded side by side (``num_workers`` 2, ``cpu_threads`` 1 each with the
default ``WHISPER_THREADS=2``: int8 gains almost nothing from a second thread on one channel).

Per channel (see ``transcription.segments``):

1. The channel is cut into windows of at most a minute at pauses, so memory stays flat however
   long the call.
2. In each window only the stretches with speech energy are decoded, laid end to end with a
   second of digital silence between them; word times are mapped back to the channel's
   timeline, and a word that falls in the inserted silence is dropped. A silent channel (the
   other side talking) is never shown to the model, so it cannot invent text there.
3. The language is detected once per channel on its first speech, among ``WHISPER_LANGUAGES``
   (English and Spanish by default), and used for every window of that channel.
4. A window whose words repeat an n-gram in a loop, or leave a stretch of speech energy without
   words (Whisper's long-form decoding sometimes skips a whole digit string), is decoded again
   region by region, without conditioning on the previous text and with temperature fallback;
   the result with fewer such problems is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from transcription import segments
from transcription.engines import ChannelText, Word
from transcription.errors import TranscriptionError
from transcription.segments import Region
from transcription.text import spoken
from transcription.whisper_model import ModelLocation

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
INSERTED_GAP_S = 1.0
MIN_OVERLAP_S = 0.02  # a word must have this much of its time inside real speech
DEFAULT_LANGUAGES = ("en", "es")
# Repetition loops: an n-gram (n <= MAX_NGRAM) said REPEATS times or more in a row, covering at
# least LOOP_WORDS words ("zero zero zero ..." forty times; a sentence said three times).
MAX_NGRAM = 8
REPEATS = 3
LOOP_WORDS = 6
# Skips: this much speech energy (seconds) with no word within SKIP_MARGIN_S of it.
SKIP_S = 1.5
SKIP_MARGIN_S = 0.5
MAX_REGION_S = 28.0  # region-by-region decoding keeps each piece inside Whisper's 30 s


@dataclass(frozen=True)
class Problems:
    """What looks wrong in a window's words."""

    looped_words: int = 0
    skipped_s: float = 0.0

    @property
    def badness(self) -> float:
        return self.looped_words + 2.5 * self.skipped_s  # about 2.5 words per second of speech

    def __bool__(self) -> bool:
        return self.looped_words > 0 or self.skipped_s > 0


class WhisperEngine:
    """faster-whisper with word timings, energy-gated, windowed, re-decoding bad windows."""

    name = "whisper"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        location: ModelLocation,
        threads: int = 2,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        prompt: str | None = None,
        beam_size: int = 5,
        window_s: float = segments.WINDOW_S,
        gate: str = "energy",
    ) -> None:
        """Load the model (int8 on CPU); TranscriptionError when it cannot be loaded."""
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # no line per window
        self.location = location
        self.model = location.name
        self.workers = 2 if threads >= 2 else 1
        self.threads = max(1, threads // self.workers)
        self.languages = tuple(languages)
        self.prompt = prompt or None
        self.beam_size = beam_size
        self.window_s = window_s
        # "energy" (the product); "vad" (faster-whisper's VAD filter) and "none" (the whole
        # window as it is) are kept for bench/transcription.py to measure the guard against.
        self.gate = gate
        try:
            self._model = WhisperModel(
                str(location.path),
                device="cpu",
                compute_type="int8",
                cpu_threads=self.threads,
                num_workers=self.workers,
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad files
            raise TranscriptionError(
                f"faster-whisper could not load the Whisper model in {location.path} "
                f"(corrupt or incompatible): {exc}"
            ) from exc
        self.multilingual = bool(self._model.model.is_multilingual)
        self.redecoded = 0  # windows decoded a second time (for the benchmark and the logs)

    def recognize(self, chunks: Iterable[bytes]) -> list[Word]:
        """The words of one channel of 16-bit PCM at 16 kHz."""
        return self.transcribe(chunks).words

    def transcribe(self, chunks: Iterable[bytes], prompt: str | None = None) -> ChannelText:
        """Words and language of one channel of 16-bit PCM at 16 kHz, window by window.

        prompt: the names to expect (``transcription.vocabulary.practice_prompt``); the
        engine's own prompt when None.
        """
        options: dict[str, Any] = {"initial_prompt": prompt or self.prompt}
        words: list[Word] = []
        language: str | None = None if self.multilingual else "en"
        for offset_s, samples in segments.windows(chunks, SAMPLE_RATE, self.window_s):
            if self.gate != "energy":
                regions = [segments.Region(0.0, len(samples) / SAMPLE_RATE)]
                if language is None:
                    language = self._detect_language(samples, regions)
                window = self._decode_spliced(
                    samples, regions, language, vad_filter=self.gate == "vad", **options
                )
                words.extend(
                    Word(
                        w.text,
                        round(w.start_s + offset_s, 3),
                        round(w.end_s + offset_s, 3),
                        w.confidence,
                    )
                    for w in window
                )
                continue
            regions = segments.speech_regions(samples, SAMPLE_RATE)
            if not regions:
                continue
            if language is None:
                language = self._detect_language(samples, regions)
            words.extend(
                Word(
                    w.text,
                    round(w.start_s + offset_s, 3),
                    round(w.end_s + offset_s, 3),
                    w.confidence,
                )
                for w in self._window(samples, regions, language, options)
            )
        return ChannelText(_monotonic(words), language)

    def _detect_language(self, samples: np.ndarray, regions: list[Region]) -> str:
        clip, _ = _splice(samples, regions[:20])
        _, _, probabilities = self._model.detect_language(audio=clip[: 30 * SAMPLE_RATE])
        allowed = [(p, lang) for lang, p in probabilities if lang in self.languages]
        if not allowed:
            return probabilities[0][0]
        return max(allowed)[1]

    def _window(
        self,
        samples: np.ndarray,
        regions: list[Region],
        language: str,
        options: dict[str, Any],
    ) -> list[Word]:
        """Decode one window; decode it again, region by region, when its words look wrong."""
        energetic = segments.speech_mask(segments.frame_db(samples, SAMPLE_RATE))
        first = self._decode_spliced(samples, regions, language, **options)
        problems = find_problems(first, energetic)
        if not problems:
            return first
        self.redecoded += 1
        pieces = [piece for region in regions for piece in _split(region, MAX_REGION_S)]
        second: list[Word] = []
        for piece in pieces:
            second.extend(
                self._decode_spliced(samples, [piece], language, condition_on_previous_text=False)
            )
        retry = find_problems(second, energetic)
        chosen = second if retry.badness < problems.badness else first
        logger.info(
            "re-decoded a window (%s -> %s), kept the %s",
            problems,
            retry,
            "second decode" if chosen is second else "first decode",
        )
        return chosen

    def _decode_spliced(
        self, samples: np.ndarray, regions: list[Region], language: str, **options: Any
    ) -> list[Word]:
        clip, starts = _splice(samples, regions)
        options.setdefault("vad_filter", False)
        segments_, _ = self._model.transcribe(
            clip,
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            **options,
        )
        words: list[Word] = []
        for segment in segments_:
            for w in _joined(segment.words or ()):
                text = w.word.strip()
                mapped = _unsplice(float(w.start), float(w.end), regions, starts)
                if text and mapped is not None:
                    words.append(Word(text, mapped[0], mapped[1], round(float(w.probability), 3)))
        return words


def _joined(words: Iterable[Any]) -> list[Any]:
    """Whisper's words with the pieces it split off glued back ("o" + "'clock." is "o'clock."):
    a piece has no leading space. The joined word spans both; its probability is the lower."""
    from faster_whisper.transcribe import Word as WhisperWord

    out: list[Any] = []
    for w in words:
        if out and w.word and not w.word[0].isspace():
            last = out[-1]
            out[-1] = WhisperWord(
                start=last.start,
                end=w.end,
                word=last.word + w.word,
                probability=min(last.probability, w.probability),
            )
        else:
            out.append(w)
    return out


def _split(region: Region, longest_s: float) -> list[Region]:
    """Cut a region into pieces of at most longest_s."""
    pieces = []
    start = region.start_s
    while region.end_s - start > longest_s:
        pieces.append(Region(start, start + longest_s))
        start += longest_s
    pieces.append(Region(start, region.end_s))
    return pieces


def _splice(samples: np.ndarray, regions: Sequence[Region]) -> tuple[np.ndarray, list[float]]:
    """The regions' audio end to end with INSERTED_GAP_S of silence between; where each starts
    in the clip."""
    gap = np.zeros(int(INSERTED_GAP_S * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    starts: list[float] = []
    position = 0
    for index, region in enumerate(regions):
        if index:
            pieces.append(gap)
            position += len(gap)
        audio = samples[int(region.start_s * SAMPLE_RATE) : int(region.end_s * SAMPLE_RATE)]
        starts.append(position / SAMPLE_RATE)
        pieces.append(audio)
        position += len(audio)
    clip = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return clip.astype(np.float32, copy=False), starts


def _unsplice(
    start: float, end: float, regions: Sequence[Region], starts: Sequence[float]
) -> tuple[float, float] | None:
    """Map a word's clip times back to the window: into the region it overlaps most. None for
    a word that lies (all but MIN_OVERLAP_S) in inserted silence: nothing was said there.

    Whisper often starts a word's time early, in the pause before it, so a word is kept when
    any real part of it falls in a region; its times are clamped to that region.
    """
    best, best_overlap = -1, MIN_OVERLAP_S
    for index, (region, clip_start) in enumerate(zip(regions, starts, strict=True)):
        length = region.end_s - region.start_s
        overlap = min(end, clip_start + length) - max(start, clip_start)
        if overlap >= best_overlap:
            best, best_overlap = index, overlap
    if best < 0:
        return None
    region, clip_start = regions[best], starts[best]
    length = region.end_s - region.start_s
    first = region.start_s + min(max(start - clip_start, 0.0), length)
    last = region.start_s + min(max(end - clip_start, 0.0), length)
    return round(first, 3), round(last, 3)


def _monotonic(words: list[Word]) -> list[Word]:
    """Words in time order, each at least 10 ms long and starting no earlier than the previous
    one ended (Whisper's word times may touch or overlap by a few milliseconds)."""
    out: list[Word] = []
    last_end = 0.0
    for w in sorted(words, key=lambda w: w.start_s):
        start = max(w.start_s, last_end)
        end = max(w.end_s, start + 0.01)
        out.append(Word(w.text, round(start, 3), round(end, 3), w.confidence))
        last_end = end
    return out


def looped_words(texts: Sequence[str]) -> int:
    """How many words sit in repetition loops (an n-gram said REPEATS+ times in a row)."""
    n_words = len(texts)
    flagged = [False] * n_words
    for n in range(1, MAX_NGRAM + 1):
        i = 0
        while i + 2 * n <= n_words:
            k = 1
            while (
                i + (k + 1) * n <= n_words
                and texts[i + k * n : i + (k + 1) * n] == texts[i : i + n]
            ):
                k += 1
            if k >= REPEATS and k * n >= LOOP_WORDS:
                for j in range(i + n, i + k * n):  # the first saying is not the loop
                    flagged[j] = True
                i += k * n
            else:
                i += 1
    return sum(flagged)


def skipped_seconds(words: Sequence[Word], energetic: np.ndarray) -> float:
    """Longest run of speech energy (seconds) with no word within SKIP_MARGIN_S of it."""
    covered = np.zeros(len(energetic), dtype=bool)
    for w in words:
        first = max(0, int((w.start_s - SKIP_MARGIN_S) / segments.FRAME_S))
        last = int((w.end_s + SKIP_MARGIN_S) / segments.FRAME_S) + 1
        covered[first:last] = True
    longest = run = 0.0
    for speech, near_word in zip(energetic, covered, strict=True):
        if near_word:
            run = 0.0
        elif speech:
            run += segments.FRAME_S
            longest = max(longest, run)
    return round(longest, 2) if longest >= SKIP_S else 0.0


def find_problems(words: Sequence[Word], energetic: np.ndarray) -> Problems:
    """Loops and skips in a window's words (times relative to the window)."""
    texts = [spoken(w.text) for w in words]
    return Problems(looped_words(texts), skipped_seconds(words, energetic))
