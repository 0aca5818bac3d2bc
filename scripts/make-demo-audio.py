"""Synthesize the demo practice's sample call recordings into ``contact_center/demo_audio/``.

Run from the repository root (needs Festival with its two voices and sox:
``apt-get install -y festival festvox-us-slt-hts festvox-kallpc16k sox``)::

    .venv/bin/python scripts/make-demo-audio.py

For every call in ``contact_center.web.demo_data.DEMO_CALLS`` it speaks the script with
``tests/speech.py`` (the coordinator in the female HTS voice, the patient in the male diphone
voice) and writes two files:

- ``<audio>.wav``: the call as Twilio records a dial dual-channel, 8 kHz, 8-bit mu-law (G.711,
  what the phone network carries and small enough to ship), the patient (caller) on channel 1
  and the coordinator on channel 2;
- ``<audio>.json``: sample rate, channels, duration and every line's speaker, text, and start
  and end in seconds, trimmed to where the voice is actually audible on that speaker's channel.

Rerunnable: every run synthesizes from scratch in a temporary directory and overwrites both files
of every call, so after changing a script in DEMO_CALLS, rerun this and commit what changed.
The same scripts give the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/speech.py and the package, run from a checkout

from contact_center.web.demo_data import DEMO_CALLS  # noqa: E402
from tests.speech import Line, build_call, festival_available  # noqa: E402

OUT_DIR = ROOT / "contact_center" / "demo_audio"
SAMPLE_RATE = 8000
GAP_S = 0.2  # added to the silence Festival leaves around each line: a brisk call
LEAD_S = 0.4  # silence before the first line and after the last
# Festival pads each line with a little silence; a sample louder than this (of 16-bit full
# scale) is speech, so line spans start and end where the voice does.
AUDIBLE = 0.02
MAX_TOTAL_BYTES = 2 * 1024 * 1024


def speech_span(samples: np.ndarray, start_s: float, end_s: float) -> tuple[float, float]:
    """Where one channel is audible within [start_s, end_s] (the span itself if never)."""
    first, last = int(start_s * SAMPLE_RATE), int(end_s * SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(samples[first:last].astype(np.int32)) > AUDIBLE * 32768)
    if loud.size == 0:
        return start_s, end_s
    return (first + int(loud[0])) / SAMPLE_RATE, (first + int(loud[-1]) + 1) / SAMPLE_RATE


def channels_of(path: Path) -> np.ndarray:
    """A 16-bit two-channel WAV as an array of shape (frames, 2)."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getframerate() == SAMPLE_RATE
        frames = wav.readframes(wav.getnframes())
        return np.frombuffer(frames, dtype="<i2").reshape(-1, wav.getnchannels())


def make_call(name: str, lines: tuple[tuple[str, str], ...], work: Path) -> tuple[Path, Path]:
    script = [Line(speaker, text) for speaker, text in lines]
    pcm = build_call(
        script, work / f"{name}.pcm.wav", work / "cache", SAMPLE_RATE, gap_s=GAP_S, lead_s=LEAD_S
    )
    tracks = channels_of(pcm.path)
    spoken = []
    for line in pcm.lines:
        channel = 0 if line.speaker == "patient" else 1  # transcription.audio.PATIENT_CHANNEL
        start, end = speech_span(tracks[:, channel], line.start_s, line.end_s)
        spoken.append(
            {
                "speaker": line.speaker,
                "text": line.text,
                "start_s": round(start, 3),
                "end_s": round(end, 3),
            }
        )
    wav_out, json_out = OUT_DIR / f"{name}.wav", OUT_DIR / f"{name}.json"
    tmp = work / f"{name}.wav"
    subprocess.run(
        ["sox", str(pcm.path), "-e", "u-law", "-b", "8", str(tmp)], check=True, capture_output=True
    )
    tmp.replace(wav_out)
    meta = {
        "sample_rate": SAMPLE_RATE,
        "channels": 2,
        "encoding": "mu-law",
        "duration_s": round(tracks.shape[0] / SAMPLE_RATE, 3),
        "lines": spoken,
    }
    json_out.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return wav_out, json_out


def main() -> int:
    if not festival_available():
        print(
            "text2wave and sox are needed: apt-get install -y festival festvox-us-slt-hts "
            "festvox-kallpc16k sox",
            file=sys.stderr,
        )
        return 1
    # Repeatable mode for every sox run, tests/speech.py's included: dither is seeded, so the
    # same scripts give the same bytes and a rerun changes no committed file.
    os.environ["SOX_OPTS"] = "-R"
    OUT_DIR.mkdir(exist_ok=True)
    total = 0
    with tempfile.TemporaryDirectory(prefix="demo-audio-") as work_dir:
        for call in DEMO_CALLS:
            wav_out, json_out = make_call(call.audio, call.lines, Path(work_dir))
            duration = json.loads(json_out.read_text())["duration_s"]
            size = wav_out.stat().st_size
            total += size + json_out.stat().st_size
            print(f"{wav_out.relative_to(ROOT)}: {duration:.1f} s, {size} bytes")
    print(f"total {total} bytes")
    if total > MAX_TOTAL_BYTES:
        print(
            f"the demo audio is over {MAX_TOTAL_BYTES} bytes: shorten the scripts", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
