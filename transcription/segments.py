"""Where a channel has speech, by its energy; windows of a few minutes cut at silences.

Each channel of a two-channel call is silent (or carries faint line noise) while the other side
talks, and Whisper invents text on such stretches ("thank you for watching"). So the Whisper
engine only ever decodes the stretches this module finds speech in: frames of 20 ms whose
energy stands clearly above the channel's noise floor (the quietest tenth of the window) and
above an absolute floor, grouped into regions (pauses under ``MERGE_GAP_S`` stay inside a
region) with a little padding. Chosen by measurement over faster-whisper's built-in VAD filter,
which raised word error at 8 kHz and looped on faint noise (bench/transcription.py).

A long recording is cut into windows of at most ``WINDOW_S`` (a minute) in the middle of the
longest pause in the window's second half, so memory does not grow with the call and each
window can be decoded (and re-decoded) on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02
# One minute: faster-whisper computes a window's spectrogram at once, which costs about 1.3 MB
# per second of audio (measured peak RSS per 2-core worker: 812 MB with 3-minute windows on a
# 5-minute call, against 625 MB for a 1-minute call); cut at pauses, shorter windows cost
# nothing measurable in word error (bench/transcription.py, long calls).
WINDOW_S = 60.0
FLOOR_QUANTILE = 10  # percent of a window's frames taken as its noise floor
ABOVE_FLOOR_DB = 15.0  # speech stands this far above the floor...
MIN_SPEECH_DB = -55.0  # ...and above this absolute level (dB full scale)
MERGE_GAP_S = 0.8
PAD_S = 0.25
MIN_SPEECH_S = 0.12  # regions with less energetic time than this are clicks, not speech


@dataclass(frozen=True)
class Region:
    """A stretch of speech, in seconds from the start of its window."""

    start_s: float
    end_s: float


def frame_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy of each 20 ms frame in dB full scale (samples are floats in [-1, 1])."""
    size = int(FRAME_S * sample_rate)
    count = len(samples) // size
    if count == 0:
        return np.zeros(0)
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def speech_mask(db: np.ndarray) -> np.ndarray:
    """Which frames are speech: clearly above the window's noise floor and an absolute floor."""
    if len(db) == 0:
        return np.zeros(0, dtype=bool)
    floor = max(float(np.percentile(db, FLOOR_QUANTILE)), -90.0)
    return db > max(floor + ABOVE_FLOOR_DB, MIN_SPEECH_DB)


def speech_regions(samples: np.ndarray, sample_rate: int) -> list[Region]:
    """Regions of speech in a window, padded, merged across short pauses."""
    mask = speech_mask(frame_db(samples, sample_rate))
    duration = len(samples) / sample_rate
    runs: list[list[float]] = []  # [start, end, energetic seconds]
    for index in np.flatnonzero(mask).tolist():
        start = index * FRAME_S
        if runs and start - runs[-1][1] <= MERGE_GAP_S:
            runs[-1][1] = start + FRAME_S
            runs[-1][2] += FRAME_S
        else:
            runs.append([start, start + FRAME_S, FRAME_S])
    regions: list[Region] = []
    for start, end, energetic in runs:
        if energetic < MIN_SPEECH_S:
            continue
        start, end = max(0.0, start - PAD_S), min(duration, end + PAD_S)
        if regions and start <= regions[-1].end_s:
            regions[-1] = Region(regions[-1].start_s, end)
        else:
            regions.append(Region(round(start, 3), round(end, 3)))
    return regions


def quietest_cut(samples: np.ndarray, sample_rate: int, not_before: int) -> int:
    """Sample index in the middle of the longest pause at or after not_before (the quietest
    frame when there is no pause at all)."""
    db = frame_db(samples, sample_rate)
    size = int(FRAME_S * sample_rate)
    first = not_before // size
    if len(db) <= first:
        return len(samples)
    quiet = ~speech_mask(db)[first:]
    best_start = best_length = run_start = 0
    for index, is_quiet in enumerate([*quiet.tolist(), False]):
        if is_quiet and (index == 0 or not quiet[index - 1]):
            run_start = index
        elif not is_quiet and index > 0 and quiet[index - 1] and index - run_start > best_length:
            best_start, best_length = run_start, index - run_start
    if best_length == 0:
        return (first + int(np.argmin(db[first:]))) * size
    return (first + best_start + best_length // 2) * size


def windows(
    chunks: Iterable[bytes], sample_rate: int, window_s: float = WINDOW_S
) -> Iterator[tuple[float, np.ndarray]]:
    """Cut a stream of 16-bit PCM into (offset in seconds, float32 samples) windows.

    Windows hold at most window_s of audio; each is cut in the longest pause of its second half,
    and the rest carries over into the next window.
    """
    limit = int(window_s * sample_rate)
    pending: list[np.ndarray] = []
    held = 0
    offset = 0
    odd = b""
    for chunk in chunks:
        data = odd + chunk
        odd = data[len(data) - len(data) % 2 :]
        samples = np.frombuffer(data[: len(data) - len(odd)], dtype="<i2")
        pending.append(samples.astype(np.float32) / 32768.0)
        held += len(samples)
        while held >= limit:
            buffer = np.concatenate(pending)
            cut = quietest_cut(buffer[:limit], sample_rate, limit // 2)
            yield offset / sample_rate, buffer[:cut]
            offset += cut
            pending, held = [buffer[cut:]], len(buffer) - cut
    if held:
        yield offset / sample_rate, np.concatenate(pending)
