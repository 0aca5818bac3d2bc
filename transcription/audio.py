"""Decode call recordings, split their channels and resample them for a recognizer, in chunks.

Everything here streams: a recording is read a chunk at a time and each chunk is decoded,
resampled and handed on before the next is read, so memory stays flat however long the call.

Which channel is which speaker
------------------------------
A ``<Dial record="record-from-answer-dual">`` recording has two channels, one per call leg.
Twilio documents the order as "The first channel of a dual-channel recording contains the parent
call and the second channel contains the child call" (``RecordingChannels`` of the Calls API, in
the docstrings of twilio-python 9.13.0, ``twilio/rest/api/v2010/account/call/__init__.py``; the
same sentence is in Twilio's API reference). Twilio's Flex guide "Enabling Dual-Channel
Recordings" (twilio.com/docs/flex/developer/insights/enable-dual-channel-recordings) describes
the same layout from the listener's side: the customer (caller) channel is the left speaker, the
agent channel the right one.

The parent leg is the call that executed the ``<Dial>``. For an inbound call that is the patient
who called the practice, so channel 1 (left, index 0) is the patient and channel 2 (right,
index 1) the coordinator who was dialed. For an outbound callback placed by first calling the
coordinator's browser and then dialing the patient from that call, the parent leg is the
coordinator: pass ``parent_speaker=COORDINATOR`` to :func:`channel_speakers` for those.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy.signal import firwin, upfirdn

from transcription.errors import TranscriptionError

logger = logging.getLogger(__name__)

PATIENT = "patient"
COORDINATOR = "coordinator"
MIXED = "mixed"

PATIENT_CHANNEL = 0  # channel 1, left: the parent leg of an inbound call (the caller)
COORDINATOR_CHANNEL = 1  # channel 2, right: the dialed party

DEFAULT_CHUNK_S = 0.5

_PCM = 0x0001
_ALAW = 0x0006
_MULAW = 0x0007
_EXTENSIBLE = 0xFFFE
_ENCODINGS = {(_PCM, 8): "pcm_u8", (_PCM, 16): "pcm_s16", (_ALAW, 8): "alaw", (_MULAW, 8): "mulaw"}

Source = str | os.PathLike[str]


@dataclass(frozen=True)
class WavInfo:
    """Where the samples of a WAV file are and how they are encoded."""

    path: Path
    sample_rate: int
    channels: int
    encoding: str  # "pcm_s16", "pcm_u8", "mulaw" or "alaw"
    sample_width: int  # bytes per sample per channel
    frames: int
    data_offset: int

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.frames / self.sample_rate


def channel_speakers(channels: int, parent_speaker: str = PATIENT) -> tuple[str, ...]:
    """Name the speaker on each channel of a recording, parent leg first.

    A mono recording mixes both sides, so its one channel is ``"mixed"``.
    Raises TranscriptionError for more than two channels.
    """
    if channels == 1:
        return (MIXED,)
    if channels == 2:
        other = COORDINATOR if parent_speaker == PATIENT else PATIENT
        return (parent_speaker, other)
    raise TranscriptionError(f"expected a mono or two-channel call recording, got {channels}")


def read_wav_info(source: Source) -> WavInfo:
    """Parse a WAV header: PCM 8/16-bit, mu-law or A-law, plain or WAVE_FORMAT_EXTENSIBLE.

    Raises TranscriptionError naming the file when it is not a WAV file or uses another encoding.
    """
    path = Path(source)
    try:
        file_size = path.stat().st_size
        with path.open("rb") as f:
            return _parse_riff(path, f, file_size)
    except OSError as exc:
        raise TranscriptionError(f"cannot read recording {path}: {exc}") from exc
    except struct.error as exc:
        raise TranscriptionError(f"recording {path} has a truncated WAV header") from exc


def _parse_riff(path: Path, f: BinaryIO, file_size: int) -> WavInfo:
    read = f.read
    header = read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise TranscriptionError(f"recording {path} is not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int, int] | None = None
    while True:
        chunk = read(8)
        if len(chunk) < 8:
            raise TranscriptionError(f"recording {path} has no data chunk")
        chunk_id, size = struct.unpack("<4sI", chunk)
        if chunk_id == b"fmt ":
            body = read(size + (size & 1))
            tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _EXTENSIBLE and size >= 40:
                tag = struct.unpack("<H", body[24:26])[0]  # first two bytes of the SubFormat GUID
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise TranscriptionError(f"recording {path} has data before its fmt chunk")
            offset = f.tell()
            available = file_size - offset
            if size in (0, 0xFFFFFFFF) or size > available:
                if size not in (0, 0xFFFFFFFF):
                    logger.warning(
                        "recording %s is truncated: %d of %d data bytes present",
                        path,
                        available,
                        size,
                    )
                size = available
            return _info(path, fmt, offset, size)
        else:
            f.seek(size + (size & 1), os.SEEK_CUR)


def _info(path: Path, fmt: tuple[int, int, int, int, int], offset: int, size: int) -> WavInfo:
    tag, channels, rate, block_align, bits = fmt
    encoding = _ENCODINGS.get((tag, bits))
    if encoding is None:
        raise TranscriptionError(
            f"recording {path} uses WAV format 0x{tag:04x} with {bits}-bit samples; "
            "expected 16-bit or 8-bit PCM, mu-law or A-law"
        )
    width = bits // 8
    if channels < 1 or rate <= 0 or block_align != channels * width:
        raise TranscriptionError(f"recording {path} has an inconsistent fmt chunk")
    return WavInfo(path, rate, channels, encoding, width, size // block_align, offset)


def _mulaw_table() -> np.ndarray:
    """ITU-T G.711 mu-law to 16-bit linear, as sox and audioop decode it."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + 0x84) << exponent
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _alaw_table() -> np.ndarray:
    """ITU-T G.711 A-law to 16-bit linear."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(segment == 0, t + 8, t + 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_MULAW_TABLE = _mulaw_table()
_ALAW_TABLE = _alaw_table()


def _decode(raw: bytes, encoding: str) -> np.ndarray:
    if encoding == "pcm_s16":
        return np.frombuffer(raw, dtype="<i2")
    codes = np.frombuffer(raw, dtype=np.uint8)
    if encoding == "mulaw":
        return _MULAW_TABLE[codes]
    if encoding == "alaw":
        return _ALAW_TABLE[codes]
    return ((codes.astype(np.int16) - 128) << 8).astype(np.int16)  # pcm_u8


def iter_frames(source: Source | WavInfo, chunk_s: float = DEFAULT_CHUNK_S) -> Iterator[np.ndarray]:
    """Yield the recording as int16 arrays of shape (frames, channels), chunk_s at a time."""
    info = source if isinstance(source, WavInfo) else read_wav_info(source)
    chunk_frames = max(1, int(chunk_s * info.sample_rate))
    block = info.channels * info.sample_width
    remaining = info.frames
    with info.path.open("rb") as f:
        f.seek(info.data_offset)
        while remaining > 0:
            want = min(chunk_frames, remaining)
            raw = f.read(want * block)
            got = len(raw) // block
            if got == 0:
                break
            remaining -= got
            samples = _decode(raw[: got * block], info.encoding)
            yield samples.reshape(got, info.channels)


class Resampler:
    """Streaming rational resampler: a polyphase low-pass FIR (scipy's upfirdn) across chunks.

    Each chunk is filtered together with the few input samples the filter still needs from the
    previous one, so chunk boundaries leave no trace. Output is aligned with the input (the
    filter delay is removed) and, after ``flush``, ceil(n_in * to_rate / from_rate) samples
    long, like one ``scipy.signal.resample_poly`` call over the whole signal.
    """

    def __init__(self, from_rate: int, to_rate: int, half_taps_per_phase: int = 16) -> None:
        """Design the filter for from_rate -> to_rate (Kaiser window, beta 6)."""
        if from_rate <= 0 or to_rate <= 0:
            raise ValueError("sample rates must be positive")
        g = gcd(from_rate, to_rate)
        self.up, self.down = to_rate // g, from_rate // g
        self.passthrough = self.up == self.down == 1
        factor = max(self.up, self.down)
        numtaps = 2 * half_taps_per_phase * factor + 1
        cutoff = 1.0 / factor if not self.passthrough else 0.5  # passthrough never filters
        self._taps = firwin(numtaps, cutoff, window=("kaiser", 6.0)) * self.up
        self._delay = (numtaps - 1) // 2  # group delay, in samples at the upsampled rate
        self._span = -(-numtaps // self.up)  # input samples under the filter at once
        self._buffer = np.zeros(0)
        self._buffer_start = 0  # input index of _buffer[0]
        self._inputs = 0
        self._outputs = 0

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resample the next chunk of a mono signal; returns float64 samples."""
        self._inputs += len(samples)
        if self.passthrough:
            self._outputs += len(samples)
            return samples.astype(np.float64)
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float64)])
        return self._emit(self._buffer_start + len(self._buffer))

    def flush(self) -> np.ndarray:
        """Push the filter's tail out; call once after the last chunk."""
        if self.passthrough:
            return np.zeros(0)
        owed = -(-self._inputs * self.up // self.down) - self._outputs
        self._buffer = np.concatenate([self._buffer, np.zeros(self._span + self.down + 1)])
        tail = self._emit(self._buffer_start + len(self._buffer))
        return tail[: max(0, owed)]

    def _emit(self, end: int) -> np.ndarray:
        """Compute every output whose input window ends before input index `end`."""
        up, down = self.up, self.down
        first = self._outputs * down + self._delay  # upsampled index of the next output
        stop = (end * up - 1 - self._delay) // down + 1  # outputs need inputs below `end`
        count = stop - self._outputs
        if count <= 0:
            return np.zeros(0)
        # upfirdn starts at an input sample and keeps every down-th upsampled sample from
        # there: pick a start under the filter's reach whose grid hits the next output.
        start = first // up - (self._span - 1)
        while (first - start * up) % down:
            start -= 1
        offset = start - self._buffer_start
        if offset < 0:  # before the first sample: the signal is zero there
            segment = np.concatenate([np.zeros(-offset), self._buffer])
        else:
            segment = self._buffer[offset:]
        skip = (first - start * up) // down
        out = upfirdn(self._taps, segment, up, down)[skip : skip + count]
        self._outputs += count
        keep = (self._outputs * down + self._delay) // up - self._span - down
        if keep > self._buffer_start:
            self._buffer = self._buffer[keep - self._buffer_start :]
            self._buffer_start = keep
        return out


def _to_pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def channel_pcm(
    source: Source | WavInfo,
    channel: int,
    target_rate: int,
    chunk_s: float = DEFAULT_CHUNK_S,
) -> Iterator[bytes]:
    """Yield one channel as 16-bit little-endian mono PCM at target_rate, chunk by chunk.

    Raises TranscriptionError when the recording has no such channel.
    """
    info = source if isinstance(source, WavInfo) else read_wav_info(source)
    if not 0 <= channel < info.channels:
        raise TranscriptionError(f"recording {info.path} has no channel {channel + 1}")
    resampler = Resampler(info.sample_rate, target_rate)
    for frames in iter_frames(info, chunk_s):
        out = resampler.process(frames[:, channel])
        if len(out):
            yield _to_pcm16(out)
    tail = resampler.flush()
    if len(tail):
        yield _to_pcm16(tail)
