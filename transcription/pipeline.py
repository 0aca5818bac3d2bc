"""A recording's channels through an engine, side by side: what the job and the CLI both run."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from transcription import audio
from transcription.engines import ChannelText, Engine, Word


@dataclass(frozen=True)
class ChannelResult:
    """One channel's speaker, words and language."""

    channel: int  # 1-based, as Twilio numbers them
    speaker: str
    language: str | None
    words: list[Word]


def transcribe_channels(
    engine: Engine, info: audio.WavInfo, roles: Sequence[str], prompt: str | None = None
) -> list[ChannelResult]:
    """Recognize every channel (one speaker each), the channels in parallel threads.

    Each thread streams its own channel from the file (split, resampled to the engine's rate),
    so memory does not grow with the call; the engine decides how much runs at once (Whisper
    decodes two channels side by side with one CPU thread each; Vosk one after the other).
    prompt: the practice's vocabulary (``transcription.vocabulary.practice_prompt``).
    """

    def one(channel: int) -> ChannelText:
        return engine.transcribe(audio.channel_pcm(info, channel, engine.sample_rate), prompt)

    with ThreadPoolExecutor(max_workers=max(1, len(roles))) as pool:
        results = list(pool.map(one, range(len(roles))))
    return [
        ChannelResult(channel + 1, speaker, text.language, text.words)
        for channel, (speaker, text) in enumerate(zip(roles, results, strict=True))
    ]
