"""Synthesize two-sided test calls with Festival and sox, shaped like Twilio dual recordings.

Each line of a script is spoken by Festival in the voice of its speaker, resampled to the call's
rate with sox, and placed on that speaker's track after the previous line ends plus a short gap,
so the two sides alternate like a real call. The tracks are merged with ``sox -M`` into one
two-channel WAV: the patient (caller, parent leg) on channel 1 (left), the coordinator (dialed
party) on channel 2 (right), matching ``transcription.audio.PATIENT_CHANNEL``.

Synthesized lines are cached by content hash in a directory the caller chooses, so a test session
or a benchmark run pays for Festival once per distinct line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PATIENT = "patient"
COORDINATOR = "coordinator"

# The DESIGN's two Festival voices: a female HTS voice for the coordinator and the male diphone
# voice for the patient, so the two sides also sound different, as on a real call.
VOICES = {
    COORDINATOR: "(voice_cmu_us_slt_arctic_hts)",
    PATIENT: "(voice_kal_diphone)",
}
# Festival has no Spanish voice in Debian; Spanish lines are spoken by espeak-ng instead.
SPANISH_VOICES = {PATIENT: "es-419", COORDINATOR: "es"}
TRACK_OF = {PATIENT: 0, COORDINATOR: 1}
SPEAKER_OF = {index: speaker for speaker, index in TRACK_OF.items()}


@dataclass(frozen=True)
class Line:
    """One line of a call script."""

    speaker: str
    text: str
    language: str = "en"  # "es": spoken by espeak-ng's Spanish voices


@dataclass(frozen=True)
class SpokenLine:
    """A line as placed in the synthesized call, with its span on the call's timeline."""

    speaker: str
    text: str
    start_s: float
    end_s: float
    language: str = "en"


@dataclass(frozen=True)
class SynthCall:
    """A synthesized two-channel call and where each line sits in it."""

    path: Path
    sample_rate: int
    lines: tuple[SpokenLine, ...]
    duration_s: float

    def reference(self, speaker: str) -> str:
        """Return the words one speaker says, in order, normalized like recognizer output."""
        return " ".join(normalize(line.text) for line in self.lines if line.speaker == speaker)


def normalize(text: str) -> str:
    """Lower-case and strip punctuation (keeping apostrophes) the way recognizers print words."""
    kept = "".join(ch if ch.isalnum() or ch in "' " else " " for ch in text.lower())
    return " ".join(kept.split())


def festival_available() -> bool:
    """Tell whether text2wave and sox are installed."""
    return shutil.which("text2wave") is not None and shutil.which("sox") is not None


def wav_duration(path: Path) -> float:
    """Return the duration of a WAV file in seconds."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _run(args: Sequence[str]) -> None:
    # sox dithers with a random seed by default; -R makes every run produce the same audio, so
    # recognition results (and the word-error bounds tests assert) are repeatable.
    env = {**os.environ, "SOX_OPTS": "-R"}
    subprocess.run(list(args), check=True, capture_output=True, env=env)


def _key(*parts: object) -> str:
    return hashlib.sha1("\x00".join(str(p) for p in parts).encode()).hexdigest()[:16]


def synthesize_line(
    text: str,
    speaker: str,
    cache_dir: Path,
    sample_rate: int,
    telephone: bool = False,
    language: str = "en",
) -> Path:
    """Speak one line in the speaker's voice as a mono 16-bit WAV at sample_rate (cached).

    telephone=True also passes the audio through 8-bit mu-law and back, the G.711 codec of the
    phone network, which is what a Twilio recording of a PSTN caller has been through.
    """
    voice = VOICES[speaker] if language == "en" else SPANISH_VOICES[speaker]
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / f"line-{_key(voice, text, sample_rate, telephone)}.wav"
    if out.exists():
        return out
    raw = cache_dir / f"raw-{_key(voice, text)}.wav"
    if not raw.exists():
        txt = cache_dir / f"raw-{_key(voice, text)}.txt"
        txt.write_text(text + "\n")
        tmp_raw = raw.with_suffix(".tmp.wav")
        if language == "en":
            _run(["text2wave", "-eval", voice, str(txt), "-o", str(tmp_raw)])
        else:
            _run(["espeak-ng", "-v", voice, "-s", "150", "-f", str(txt), "-w", str(tmp_raw)])
        tmp_raw.replace(raw)
    tmp = out.with_suffix(".tmp.wav")
    _run(["sox", str(raw), "-r", str(sample_rate), "-b", "16", "-c", "1", str(tmp)])
    if telephone:
        ulaw = out.with_suffix(".ulaw.wav")
        _run(["sox", str(tmp), "-e", "u-law", str(ulaw)])
        _run(["sox", str(ulaw), "-e", "signed-integer", "-b", "16", str(tmp)])
        ulaw.unlink()
    tmp.replace(out)
    return out


def build_call(
    script: Sequence[Line],
    out_path: Path,
    cache_dir: Path,
    sample_rate: int = 8000,
    gap_s: float = 0.6,
    lead_s: float = 0.5,
    telephone: bool = False,
) -> SynthCall:
    """Synthesize a script into a two-channel WAV, one speaker per channel, turns alternating.

    Each line starts gap_s after the previous line ends (whoever spoke it); the other channel is
    silent meanwhile. Returns the file and the span of every line on the call's timeline.
    """
    spoken = _layout(script, cache_dir, sample_rate, gap_s, lead_s, telephone)
    done = out_path.with_suffix(".done")
    key = _key(script, sample_rate, gap_s, lead_s, telephone)
    if not (out_path.exists() and done.exists() and done.read_text().strip() == key):
        total = max(line.end_s for line in spoken) + lead_s
        with tempfile.TemporaryDirectory(dir=cache_dir) as work_dir:
            tracks = [
                _build_track(
                    spoken, track, cache_dir, Path(work_dir), sample_rate, telephone, total
                )
                for track in (0, 1)
            ]
            _run(["sox", "-M", str(tracks[0]), str(tracks[1]), "-b", "16", str(out_path)])
        done.write_text(key + "\n")
    return SynthCall(out_path, sample_rate, tuple(spoken), wav_duration(out_path))


def _layout(
    script: Sequence[Line],
    cache_dir: Path,
    sample_rate: int,
    gap_s: float,
    lead_s: float,
    telephone: bool,
) -> list[SpokenLine]:
    spoken: list[SpokenLine] = []
    cursor = lead_s
    for line in script:
        wav = synthesize_line(
            line.text, line.speaker, cache_dir, sample_rate, telephone, line.language
        )
        duration = wav_duration(wav)
        spoken.append(SpokenLine(line.speaker, line.text, cursor, cursor + duration, line.language))
        cursor += duration + gap_s
    return spoken


def _build_track(
    spoken: Sequence[SpokenLine],
    track: int,
    cache_dir: Path,
    work: Path,
    sample_rate: int,
    telephone: bool,
    total_s: float,
) -> Path:
    """Concatenate one speaker's lines, each padded with the silence before it, to total_s."""
    out = work / f"track{track}.wav"
    pieces: list[str] = []
    position = 0.0
    for index, line in enumerate(spoken):
        if TRACK_OF[line.speaker] != track:
            continue
        source = synthesize_line(
            line.text, line.speaker, cache_dir, sample_rate, telephone, line.language
        )
        padded = work / f"t{track}-{index}.wav"
        _run(["sox", str(source), str(padded), "pad", f"{line.start_s - position:.6f}", "0"])
        pieces.append(str(padded))
        position = line.end_s
    if not pieces:  # a side that never speaks: silence the length of the call
        silence = ["-n", "-r", str(sample_rate), "-b", "16", "-c", "1"]
        _run(["sox", *silence, str(out), "trim", "0", f"{total_s:.6f}"])
        return out
    _run(["sox", *pieces, str(out), "pad", "0", f"{total_s - position:.6f}"])
    return out


# A short call for the test suite: four alternating turns.
SHORT_CALL: tuple[Line, ...] = (
    Line(PATIENT, "Hello, I would like to book an appointment for next Tuesday."),
    Line(COORDINATOR, "Thank you for calling. What time works best for you?"),
    Line(PATIENT, "The afternoon would be great, around three o'clock."),
    Line(COORDINATOR, "Perfect, I have you down for Tuesday at three."),
)

# Held-out calls for measuring word error. None of these sentences may be copied into a prompt
# or vocabulary for the engine: the point is to measure it on calls it has not seen.
EVAL_CALLS: dict[str, tuple[Line, ...]] = {
    "new_patient_consult": (
        Line(COORDINATOR, "Good morning, thanks for calling. This is Rachel, how can I help?"),
        Line(PATIENT, "Hi Rachel, I saw your ad online and I want to learn about lip filler."),
        Line(COORDINATOR, "Of course. Have you been to our office before?"),
        Line(PATIENT, "No, this would be my first time."),
        Line(COORDINATOR, "Great. We start with a free consultation with one of our nurses."),
        Line(PATIENT, "How long does the consultation usually take?"),
        Line(COORDINATOR, "About thirty minutes. Can I get your first and last name?"),
        Line(PATIENT, "Sure, my name is Karen Miller."),
    ),
    "reschedule": (
        Line(PATIENT, "Hello, I need to move my appointment on Friday."),
        Line(COORDINATOR, "No problem. Can you tell me your date of birth?"),
        Line(PATIENT, "It is March fourth, nineteen ninety."),
        Line(COORDINATOR, "Thank you. I see you at two in the afternoon on Friday."),
        Line(PATIENT, "Could we do Monday morning instead?"),
        Line(COORDINATOR, "I have ten thirty or eleven fifteen open on Monday."),
        Line(PATIENT, "Ten thirty works for me."),
        Line(COORDINATOR, "You are all set. You will get a text to confirm."),
    ),
    "pricing_question": (
        Line(PATIENT, "Hi, how much do you charge for Botox?"),
        Line(COORDINATOR, "It is priced per unit, and most people need twenty to forty units."),
        Line(PATIENT, "Do you have any specials this month?"),
        Line(COORDINATOR, "Yes, new clients get fifty dollars off their first treatment."),
        Line(PATIENT, "That sounds good. Is there any downtime?"),
        Line(COORDINATOR, "Most people go right back to work the same day."),
        Line(PATIENT, "Okay, I think I would like to come in."),
        Line(COORDINATOR, "Wonderful. Would you prefer a morning or an evening visit?"),
    ),
    "follow_up": (
        Line(COORDINATOR, "Hi, this is Emily calling back from the spa about your message."),
        Line(PATIENT, "Oh yes, thank you for calling me back so quickly."),
        Line(COORDINATOR, "You asked about laser hair removal. Is that still of interest?"),
        Line(PATIENT, "Yes, I was wondering how many sessions I would need."),
        Line(COORDINATOR, "Usually six sessions, spaced about a month apart."),
        Line(PATIENT, "And does it hurt very much?"),
        Line(COORDINATOR, "Most clients say it feels like a quick snap of a rubber band."),
        Line(PATIENT, "Alright, please put me down for the first one."),
    ),
    "skin_care": (
        Line(PATIENT, "Good afternoon, I have some dark spots on my cheeks."),
        Line(COORDINATOR, "I am sorry to hear that. How long have you noticed them?"),
        Line(PATIENT, "For about a year, mostly after the summer."),
        Line(COORDINATOR, "Our provider can look at them and suggest a plan at your visit."),
        Line(PATIENT, "Do I need to stop using my skin cream before I come?"),
        Line(COORDINATOR, "Please ask the provider, she will go over that with you."),
        Line(PATIENT, "Okay. Do you have anything open on Thursday?"),
        Line(COORDINATOR, "Yes, we have a spot at four thirty on Thursday."),
    ),
    "cancellation": (
        Line(COORDINATOR, "Thank you for calling, this is Anna speaking."),
        Line(PATIENT, "Hi Anna, I have to cancel my visit tomorrow, I am sick."),
        Line(COORDINATOR, "I hope you feel better soon. Would you like to pick a new day?"),
        Line(PATIENT, "Maybe next week, is Wednesday possible?"),
        Line(COORDINATOR, "We have nine in the morning or one in the afternoon."),
        Line(PATIENT, "One in the afternoon, please."),
        Line(COORDINATOR, "Done. There is no fee since you called a day ahead."),
        Line(PATIENT, "Thank you so much, have a nice day."),
    ),
    "first_visit_questions": (
        Line(PATIENT, "Hi, I am coming in for the first time on Saturday."),
        Line(COORDINATOR, "Welcome! Is there something I can answer before your visit?"),
        Line(PATIENT, "Should I wear makeup to the appointment?"),
        Line(COORDINATOR, "It is best to come with a clean face if you can."),
        Line(PATIENT, "Got it. And where should I park?"),
        Line(COORDINATOR, "There is a garage across the street, and we pay for the first hour."),
        Line(PATIENT, "That is very helpful, thank you."),
        Line(COORDINATOR, "My pleasure. See you on Saturday."),
    ),
    "gift_card": (
        Line(PATIENT, "Hello, do you sell gift cards for a facial?"),
        Line(COORDINATOR, "We do, you can buy them in any amount."),
        Line(PATIENT, "I want to get one for my sister's birthday."),
        Line(COORDINATOR, "How nice. Would you like us to mail it or send it by email?"),
        Line(PATIENT, "Email would be easier, she lives in another state."),
        Line(COORDINATOR, "No problem. What amount would you like to put on it?"),
        Line(PATIENT, "Let's do two hundred dollars."),
        Line(COORDINATOR, "Perfect, I will send you a payment link right now."),
    ),
    "missed_call_back": (
        Line(COORDINATOR, "Hello, I am returning a missed call from this number."),
        Line(PATIENT, "Yes, I called earlier about getting my eyebrows done."),
        Line(COORDINATOR, "Sure. Were you thinking of a tint or a lift?"),
        Line(PATIENT, "I am not sure, what is the difference?"),
        Line(COORDINATOR, "A tint adds color, and a lift changes the shape for a few weeks."),
        Line(PATIENT, "I think I want the lift then."),
        Line(COORDINATOR, "Great, the next opening is Tuesday at noon."),
        Line(PATIENT, "Noon on Tuesday is fine."),
    ),
    "post_treatment": (
        Line(PATIENT, "Hi, I had my lips done two days ago and they are still swollen."),
        Line(COORDINATOR, "Thank you for letting us know. Are you in any pain?"),
        Line(PATIENT, "Not really, they just feel tight."),
        Line(COORDINATOR, "I will ask our nurse to call you back within the hour."),
        Line(PATIENT, "Okay, should I put ice on them?"),
        Line(COORDINATOR, "The nurse will go over that with you when she calls."),
        Line(PATIENT, "Alright, my number is the one I am calling from."),
        Line(COORDINATOR, "Got it, she will call you shortly."),
    ),
    "price_shopping": (
        Line(PATIENT, "Hi, I am calling around to compare prices for a facial."),
        Line(COORDINATOR, "Sure, our signature facial is one hundred twenty dollars."),
        Line(PATIENT, "Does that include the mask and the massage?"),
        Line(COORDINATOR, "Yes, it includes both and takes about an hour."),
        Line(PATIENT, "Another place quoted me ninety dollars."),
        Line(COORDINATOR, "I understand. We also have a first visit discount of twenty percent."),
        Line(PATIENT, "Okay, that makes it about the same."),
        Line(COORDINATOR, "Would you like me to hold a time for you this week?"),
    ),
    "wrong_number": (
        Line(COORDINATOR, "Good evening, thank you for calling, this is Lauren."),
        Line(PATIENT, "Hi, is this the dentist office?"),
        Line(COORDINATOR, "No, I am sorry, this is a skin clinic."),
        Line(PATIENT, "Oh, I must have dialed the wrong number."),
        Line(COORDINATOR, "That is alright, it happens all the time."),
        Line(PATIENT, "Sorry to bother you, good night."),
    ),
}
