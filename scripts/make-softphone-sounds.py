#!/usr/bin/env python3
"""Write the softphone's ring and key tones as small WAV files under contact_center/static/sounds.

The vendored Twilio Voice SDK fetches its sounds from Twilio's CDN unless the Device is given
``sounds`` URLs; the console gives it these (generated here, same bytes on every run, standard
library only). Telephone tones: North American ring and ringback (440 + 480 Hz), busy tone
(480 + 620 Hz) for a hang-up, DTMF pairs for the keys. 8 kHz, 16-bit mono PCM.

Usage: python scripts/make-softphone-sounds.py [output directory]
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 8000
LEVEL = 0.3 * 32767
FADE_S = 0.005
DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
    "star": (941, 1209), "0": (941, 1336), "hash": (941, 1477),
}  # fmt: skip
# (frequencies, seconds on) or ((), seconds of silence)
SOUNDS: dict[str, list[tuple[tuple[int, ...], float]]] = {
    "incoming": [((440, 480), 0.4), ((), 0.2), ((440, 480), 0.4), ((), 1.5)],
    "outgoing": [((440, 480), 1.0), ((), 0.5)],
    "disconnect": [((480, 620), 0.15), ((), 0.1)] * 3,
    **{f"dtmf-{key}": [(pair, 0.12)] for key, pair in DTMF.items()},
}


def samples(parts: list[tuple[tuple[int, ...], float]]) -> list[int]:
    out: list[int] = []
    for freqs, seconds in parts:
        n = round(seconds * RATE)
        fade = round(FADE_S * RATE)
        for i in range(n):
            if not freqs:
                out.append(0)
                continue
            envelope = min(1.0, i / fade, (n - 1 - i) / fade)
            value = sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs) / len(freqs)
            out.append(round(LEVEL * envelope * value))
    return out


def write(path: Path, data: list[int]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(data)}h", *data))


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name, parts in SOUNDS.items():
        write(target / f"{name}.wav", samples(parts))


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "contact_center" / "static" / "sounds"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
