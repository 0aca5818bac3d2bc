"""Speech recognizers with word timings: Whisper (built in) and Vosk (when configured).

An engine is loaded once per process by :func:`load_engine` and reused for every recording, since
loading a model takes far longer than recognizing a short call. Engines take one channel of
16-bit mono PCM at their ``sample_rate`` (see :func:`transcription.audio.channel_pcm`) and
return the words heard, with start and end times in seconds from the start of the channel, and
the channel's language when the engine knows it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from transcription.errors import TranscriptionError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Word:
    """One recognized word and when it was said, in seconds from the start of its channel."""

    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True)
class ChannelText:
    """What an engine made of one channel: its words, and its language when known ("es")."""

    words: list[Word]
    language: str | None = None


class Engine(Protocol):
    """A recognizer for one channel of a call."""

    name: str
    model: str  # which model, for the transcript and the operators
    sample_rate: int

    def recognize(self, chunks: Iterable[bytes]) -> list[Word]:
        """Recognize 16-bit mono PCM at sample_rate, given in chunks of any size."""
        ...

    def transcribe(self, chunks: Iterable[bytes], prompt: str | None = None) -> ChannelText:
        """Like recognize, with the channel's language; prompt: names to expect (Whisper)."""
        ...


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
        self.model = str(path)
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

    def transcribe(self, chunks: Iterable[bytes], prompt: str | None = None) -> ChannelText:
        """Vosk models are one language each and do not say which: language unknown. Vosk
        takes no prompt (its vocabulary is its graph)."""
        return ChannelText(self.recognize(chunks), None)


def _vosk_words(result_json: str) -> list[Word]:
    result = json.loads(result_json)
    return [
        Word(w["word"], round(w["start"], 3), round(w["end"], 3), round(w.get("conf", 1.0), 3))
        for w in result.get("result", [])
        if w.get("word") and w["word"] != "[unk]"
    ]


@dataclass(frozen=True)
class EngineConfig:
    """Which engine a process runs (hashable: one engine per configuration per process)."""

    vosk_model_path: str | None = None
    whisper_model: str = ""  # empty: the packaged base model
    whisper_models_dir: Path = Path("var/models")
    whisper_threads: int = 2
    whisper_languages: tuple[str, ...] = ("en", "es")
    whisper_prompt: str = ""


_engines: dict[EngineConfig, Engine] = {}
_engines_lock = threading.Lock()


def load_engine(config: EngineConfig) -> Engine:
    """Return this process's engine for the configuration, loading it on first use.

    Vosk when a model directory is configured, otherwise Whisper (the packaged base model
    unless WHISPER_MODEL names another). Raises TranscriptionError for a missing, corrupt or
    tampered model.
    """
    with _engines_lock:
        engine = _engines.get(config)
        if engine is None:
            if config.vosk_model_path:
                engine = VoskEngine(config.vosk_model_path)
            else:
                from transcription.whisper_engine import WhisperEngine
                from transcription.whisper_model import locate_model

                location = locate_model(config.whisper_model, config.whisper_models_dir)
                engine = WhisperEngine(
                    location,
                    threads=config.whisper_threads,
                    languages=config.whisper_languages,
                    prompt=config.whisper_prompt or None,
                )
            logger.info("loaded %s speech engine (model %s)", engine.name, engine.model)
            _engines[config] = engine
        return engine
