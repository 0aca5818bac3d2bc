"""Decoding, channel splitting and streaming resampling of call recordings, on real WAV files."""

from __future__ import annotations

import subprocess
import tracemalloc
import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from tests.speech import SynthCall
from transcription.audio import (
    COORDINATOR,
    COORDINATOR_CHANNEL,
    MIXED,
    PATIENT,
    PATIENT_CHANNEL,
    Resampler,
    channel_pcm,
    channel_speakers,
    iter_frames,
    read_wav_info,
)
from transcription.errors import TranscriptionError


def _pcm(chunks: Iterable[bytes]) -> np.ndarray:
    return np.concatenate([np.frombuffer(c, dtype="<i2") for c in chunks])


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


def test_reads_a_two_channel_call_like_twilio_dual_recordings(short_call: SynthCall) -> None:
    info = read_wav_info(short_call.path)
    assert (info.sample_rate, info.channels, info.encoding) == (8000, 2, "pcm_s16")
    assert info.duration_s == pytest.approx(short_call.duration_s, abs=0.01)


def test_each_channel_carries_only_its_speaker(short_call: SynthCall) -> None:
    info = read_wav_info(short_call.path)
    frames = np.concatenate(list(iter_frames(info))).astype(np.float64)
    channel_of = {PATIENT: PATIENT_CHANNEL, COORDINATOR: COORDINATOR_CHANNEL}
    for line in short_call.lines:
        span = frames[int(line.start_s * 8000) : int(line.end_s * 8000)]
        own = np.sqrt(np.mean(span[:, channel_of[line.speaker]] ** 2))
        other = np.sqrt(np.mean(span[:, 1 - channel_of[line.speaker]] ** 2))
        assert own > 300 and other < 1, (line, own, other)


def test_channel_speakers_follow_the_parent_leg() -> None:
    assert channel_speakers(2) == (PATIENT, COORDINATOR)
    assert channel_speakers(2, parent_speaker=COORDINATOR) == (COORDINATOR, PATIENT)
    assert channel_speakers(1) == (MIXED,)
    with pytest.raises(TranscriptionError):
        channel_speakers(3)


@pytest.mark.parametrize(
    ("encoding", "bits", "expected"),
    [
        ("u-law", "8", "mulaw"),
        ("a-law", "8", "alaw"),
        ("unsigned-integer", "8", "pcm_u8"),
    ],
)
def test_companded_and_8_bit_wavs_decode_like_sox(
    short_call: SynthCall, tmp_path: Path, encoding: str, bits: str, expected: str
) -> None:
    encoded, decoded = tmp_path / "encoded.wav", tmp_path / "decoded.wav"
    subprocess.run(
        ["sox", str(short_call.path), "-e", encoding, "-b", bits, str(encoded)], check=True
    )
    subprocess.run(
        ["sox", str(encoded), "-e", "signed-integer", "-b", "16", str(decoded)], check=True
    )
    info = read_wav_info(encoded)
    assert info.encoding == expected and info.channels == 2
    ours = np.concatenate(list(iter_frames(info)))
    with wave.open(str(decoded), "rb") as ref:
        theirs = np.frombuffer(ref.readframes(ref.getnframes()), dtype="<i2").reshape(-1, 2)
    np.testing.assert_array_equal(ours, theirs)


def test_resampling_to_16k_matches_scipy_whatever_the_chunk_size(short_call: SynthCall) -> None:
    info = read_wav_info(short_call.path)
    source = np.concatenate(list(iter_frames(info)))[:, PATIENT_CHANNEL].astype(np.float64)
    expected = resample_poly(source, 2, 1)
    outputs = [_pcm(channel_pcm(info, PATIENT_CHANNEL, 16000, chunk_s=s)) for s in (0.013, 0.5, 7)]
    for out in outputs:
        assert len(out) == 2 * info.frames
        np.testing.assert_array_equal(out, outputs[0])
    # Same signal, same timing: the filters differ slightly, the alignment must not.
    residual = outputs[0] - expected
    assert np.sqrt(np.mean(residual**2)) < 0.01 * np.sqrt(np.mean(expected**2))


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (16000, 8000), (44100, 16000)])
def test_resampler_keeps_the_signal_in_time(from_rate: int, to_rate: int) -> None:
    tone = 10000 * np.sin(2 * np.pi * 440 * np.arange(from_rate) / from_rate)
    resampler = Resampler(from_rate, to_rate)
    pieces = [resampler.process(tone[i : i + 777]) for i in range(0, from_rate, 777)]
    out = np.concatenate([*pieces, resampler.flush()])
    assert len(out) == to_rate
    expected = 10000 * np.sin(2 * np.pi * 440 * np.arange(to_rate) / to_rate)
    np.testing.assert_allclose(out[200:-200], expected[200:-200], atol=60)


def test_a_ten_minute_call_streams_in_constant_memory(tmp_path: Path) -> None:
    rate, seconds = 8000, 600
    path = tmp_path / "long-call.wav"
    rng = np.random.default_rng(7)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        for minute in range(seconds // 60):
            t = np.arange(60 * rate) / rate + 60 * minute
            left = 6000 * np.sin(2 * np.pi * 300 * t) + rng.normal(0, 500, len(t))
            right = rng.normal(0, 2000, len(t))
            out.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())
    info = read_wav_info(path)
    assert info.duration_s == seconds

    tracemalloc.start()
    try:
        produced = 0
        for chunk in channel_pcm(info, COORDINATOR_CHANNEL, 16000):
            produced += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert produced == 2 * seconds * 16000  # the whole channel, 19.2 MB of 16 kHz PCM ...
    assert peak < 1_000_000  # ... never more than a few chunks of it in memory at once


def test_rejects_what_is_not_a_wav_it_can_decode(tmp_path: Path) -> None:
    text = tmp_path / "recording.wav"
    text.write_text("<Response>not audio</Response>")
    with pytest.raises(TranscriptionError, match="not a RIFF/WAVE"):
        read_wav_info(text)

    float_wav = tmp_path / "float.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-e",
            "floating-point",
            "-b",
            "32",
            str(float_wav),
            "trim",
            "0",
            "0.1",
        ],
        check=True,
    )
    with pytest.raises(TranscriptionError, match="float.wav"):
        read_wav_info(float_wav)

    with pytest.raises(TranscriptionError, match="cannot read"):
        read_wav_info(tmp_path / "missing.wav")

    mono = tmp_path / "mono.wav"
    _write_wav(mono, np.zeros((800, 1)), 8000)
    with pytest.raises(TranscriptionError, match="no channel 2"):
        next(channel_pcm(mono, 1, 16000))


def test_a_truncated_download_decodes_what_is_there(short_call: SynthCall, tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    data = short_call.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 1])  # mid-frame, data size in the header too big
    info = read_wav_info(cut)
    frames = sum(len(f) for f in iter_frames(info))
    assert frames == info.frames == (len(data) // 2 + 1 - info.data_offset) // 4
