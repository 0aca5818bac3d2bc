"""Speech recognizers with word timings: Vosk (production) and the bundled PocketSphinx.

An engine is loaded once per process by :func:`load_engine` and reused for every recording, since
loading a model takes far longer than recognizing a short call. Engines take one channel of
16-bit mono PCM at their ``sample_rate`` (see :func:`transcription.audio.channel_pcm`) and
return the words heard, with start and end times in seconds from the start of the channel.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transcription.errors import TranscriptionError
from transcription.vocabulary import DEFAULT_VOCABULARY, Vocabulary

logger = logging.getLogger(__name__)

MAX_UTTERANCE_S = 30.0


@dataclass(frozen=True)
class Word:
    """One recognized word and when it was said, in seconds from the start of its channel."""

    text: str
    start_s: float
    end_s: float
    confidence: float


class Engine(Protocol):
    """A recognizer for one channel of a call."""

    name: str
    sample_rate: int

    def recognize(self, chunks: Iterable[bytes]) -> list[Word]:
        """Recognize 16-bit mono PCM at sample_rate, given in chunks of any size."""
        ...


# Decoder settings for recorded phone calls (8 kHz, resampled to the model's 16 kHz), chosen
# with bench/transcription.py on twelve held-out synthesized calls (878 words). Dropping the
# second, flat-lexicon pass (fwdflat) and capping active HMMs per frame at 10000 (default
# 30000) cut recognition time by a quarter, from 0.38 to 0.29 times real time per two-channel
# call on one core, for no measurable change in word error (mu-law 36.9% -> 36.2%, plain PCM
# 33.6% -> 34.7%; one word in 878 is 0.1 point). Tried and not kept, at 8 kHz: narrowband
# features (samprate 8000 with upperf 3500-4000, or upperf 4000 at 16 kHz: 80-97% word error,
# the model was trained on 130-6800 Hz filters), language weight 5 or 8, word insertion
# penalty 0.2, topn 2 or 8, wider or narrower beams, ds 2, maxhmmpf 3000 or 5000, noise or
# spectral folding in the empty 4-8 kHz band, no noise removal: each was worse or no better.
TELEPHONE_OPTIONS: Mapping[str, Any] = {
    "fwdflat": False,
    "maxhmmpf": 10000,
}


class PocketSphinxEngine:
    """PocketSphinx 5 with the en-us model that ships in its wheel.

    Each channel is cut into utterances by the voice-activity endpointer, and each utterance is
    decoded on its own (batch cepstral normalization over the utterance), so memory is bounded
    by the longest utterance (capped at max_utterance_s) rather than by the call.
    """

    name = "pocketsphinx"

    def __init__(
        self,
        vocabulary: Vocabulary | None = None,
        options: Mapping[str, Any] | None = None,
        sample_rate: int = 16000,
        max_utterance_s: float = MAX_UTTERANCE_S,
    ) -> None:
        """Load the acoustic model, dictionary and language model; slow, so done once."""
        import pocketsphinx

        self._ps = pocketsphinx
        self.sample_rate = sample_rate
        self.max_utterance_s = max_utterance_s
        settings: dict[str, Any] = {"loglevel": "ERROR", "samprate": sample_rate}
        settings.update(options or {})
        try:
            self._decoder = pocketsphinx.Decoder(**settings)
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"cannot start PocketSphinx with {settings}: {exc}") from exc
        self._frate = int(self._decoder.config["frate"])
        self._lock = threading.Lock()
        if vocabulary is not None:
            vocabulary.apply_to(self._decoder)

    def recognize(self, chunks: Iterable[bytes]) -> list[Word]:
        """Recognize one channel; silence between utterances is skipped, not decoded."""
        with self._lock:
            return list(self._recognize(chunks))

    def _recognize(self, chunks: Iterable[bytes]) -> Iterator[Word]:
        endpointer = self._ps.Endpointer(sample_rate=self.sample_rate)
        frame_bytes = endpointer.frame_bytes
        bytes_per_s = 2 * self.sample_rate
        max_bytes = int(self.max_utterance_s * bytes_per_s)
        pending = bytearray()
        utterance = bytearray()
        start_s = 0.0
        for chunk in _frames(chunks, frame_bytes, pending):
            was_in_speech = endpointer.in_speech
            speech = endpointer.process(chunk)
            if speech is None:
                continue
            if not was_in_speech:
                start_s = endpointer.speech_start
            utterance += speech
            if not endpointer.in_speech or len(utterance) >= max_bytes:
                yield from self._decode(bytes(utterance), start_s)
                start_s += len(utterance) / bytes_per_s
                utterance.clear()
        if endpointer.in_speech:
            tail = endpointer.end_stream(bytes(pending))
            if tail:
                utterance += tail
        if utterance:
            yield from self._decode(bytes(utterance), start_s)

    def _decode(self, pcm: bytes, offset_s: float) -> Iterator[Word]:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        for seg in decoder.seg():
            text = _clean(seg.word)
            if text is None:
                continue
            yield Word(
                text=text,
                start_s=round(offset_s + seg.start_frame / self._frate, 3),
                end_s=round(offset_s + (seg.end_frame + 1) / self._frate, 3),
                # The Python binding already converts the posterior out of log space.
                confidence=round(min(1.0, max(0.0, seg.prob)), 3),
            )


def _frames(chunks: Iterable[bytes], frame_bytes: int, pending: bytearray) -> Iterator[bytes]:
    """Re-cut chunks into frames of exactly frame_bytes; a short remainder stays in pending."""
    for chunk in chunks:
        pending += chunk
        whole = len(pending) - len(pending) % frame_bytes
        for i in range(0, whole, frame_bytes):
            yield bytes(pending[i : i + frame_bytes])
        del pending[:whole]


def _clean(token: str) -> str | None:
    """Drop fillers (<s>, <sil>, [NOISE], +SPN+) and the "(2)" of alternate pronunciations."""
    if not token or token[0] in "<[+":
        return None
    paren = token.find("(")
    return token[:paren] if paren > 0 else token


# Files a Vosk model needs, per src/model.cc of vosk-api: the v2 layout (am/final.mdl with
# conf/model.conf) or the older flat v1 layout (final.mdl with mfcc.conf), and a decoding graph,
# either static (HCLG.fst) or the lookahead pair (HCLr.fst with Gr.fst).
_VOSK_LAYOUTS = (
    (Path("am/final.mdl"), Path("conf/model.conf")),
    (Path("final.mdl"), Path("mfcc.conf")),
)
_VOSK_GRAPHS = (
    (Path("graph/HCLG.fst"),),
    (Path("graph/HCLr.fst"), Path("graph/Gr.fst")),
    (Path("HCLG.fst"),),
    (Path("HCLr.fst"), Path("Gr.fst")),
)


def check_vosk_model(model_dir: str | Path) -> Path:
    """Check a directory looks like a Vosk model before handing it to Kaldi.

    Raises TranscriptionError naming the directory and what is missing.
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise TranscriptionError(f"Vosk model directory {path} does not exist")
    if not any(all((path / f).is_file() for f in files) for files in _VOSK_LAYOUTS):
        raise TranscriptionError(
            f"{path} is not a Vosk model: expected am/final.mdl and conf/model.conf"
        )
    if not any(all((path / f).is_file() for f in files) for files in _VOSK_GRAPHS):
        raise TranscriptionError(
            f"{path} is not a Vosk model: no decoding graph (graph/HCLG.fst, or graph/HCLr.fst "
            "with graph/Gr.fst)"
        )
    return path


def _vosk_sample_rate(path: Path) -> int:
    """Read the model's feature sample rate from its mfcc.conf (16 kHz when not stated)."""
    for conf in (path / "conf/mfcc.conf", path / "mfcc.conf"):
        if conf.is_file():
            for line in conf.read_text(errors="replace").splitlines():
                if line.strip().startswith("--sample-frequency="):
                    return int(float(line.split("=", 1)[1]))
    return 16000


class VoskEngine:
    """Vosk (Kaldi) recognizer with per-word times and confidences (KaldiRecognizer.SetWords)."""

    name = "vosk"

    def __init__(self, model_dir: str | Path) -> None:
        """Validate and load the model; raises TranscriptionError naming the directory."""
        import vosk

        path = check_vosk_model(model_dir)
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise TranscriptionError(
                f"Vosk could not load the model in {path} (corrupt or incompatible): {exc}"
            ) from exc
        self._vosk = vosk
        self.sample_rate = _vosk_sample_rate(path)
        self._lock = threading.Lock()

    def recognize(self, chunks: Iterable[bytes]) -> list[Word]:
        """Recognize one channel; Vosk cuts utterances itself and times words from the start."""
        recognizer = self._vosk.KaldiRecognizer(self._model, float(self.sample_rate))
        recognizer.SetWords(True)
        words: list[Word] = []
        with self._lock:
            for chunk in chunks:
                if recognizer.AcceptWaveform(chunk):
                    words.extend(_vosk_words(recognizer.Result()))
            words.extend(_vosk_words(recognizer.FinalResult()))
        return words


def _vosk_words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(w["word"], round(w["start"], 3), round(w["end"], 3), round(w.get("conf", 1.0), 3))
        for w in result.get("result", [])
        if w.get("word") and w["word"] != "[unk]"
    ]


_engines: dict[tuple[str | None, Vocabulary | None], Engine] = {}
_engines_lock = threading.Lock()


def load_engine(
    vosk_model_path: str | None, vocabulary: Vocabulary | None = DEFAULT_VOCABULARY
) -> Engine:
    """Return this process's engine for the configuration, loading it on first use.

    Vosk when a model directory is configured, otherwise PocketSphinx with the telephone
    settings and the vocabulary (by default the medspa terms; None for the bare dictionary).
    Vosk models carry their own lexicon and graph, so the vocabulary only applies to
    PocketSphinx. Raises TranscriptionError for a missing or broken Vosk model.
    """
    key = (str(vosk_model_path) if vosk_model_path else None, vocabulary)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if key[0] is not None:
                engine = VoskEngine(key[0])
            else:
                engine = PocketSphinxEngine(vocabulary, TELEPHONE_OPTIONS)
            logger.info("loaded %s speech engine (vosk model %s)", engine.name, key[0])
            _engines[key] = engine
        return engine
