"""The vocabulary Whisper is prompted with: the practice's name, its staff's names and the
treatment and product names callers use.

Whisper takes a text prompt (``initial_prompt``) as if it were the transcript so far, which
steers its spelling of names it would otherwise write as it hears them. Measured with
bench/transcription.py on two name-heavy synthesized calls (a practice, staff and products):
word error 60.8% without the prompt and 9.3% with it ("Dysport or Xeomin" instead of "this
part, or the Omen"); see the benchmark for its effect on the held-out calls. So the
transcription job prompts each call with its own practice's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

# Treatment and product names callers of an aesthetic practice use.
TREATMENT_TERMS: tuple[str, ...] = (
    "Botox",
    "Dysport",
    "Xeomin",
    "Daxxify",
    "Jeuveau",
    "Juvederm",
    "Restylane",
    "Radiesse",
    "Sculptra",
    "Kybella",
    "CoolSculpting",
    "HydraFacial",
    "microneedling",
    "dermaplaning",
    "IPL",
    "PRP",
)
MAX_STAFF = 20  # Whisper keeps about 220 tokens of prompt; names beyond this would crowd it


def practice_prompt(practice: str | None, staff: Iterable[str] = (), extra: str = "") -> str:
    """The prompt for one practice's calls: its name, staff names, the treatment terms, and
    any extra words the deployment configures (WHISPER_PROMPT)."""
    parts = []
    if practice:
        parts.append(f"{practice.strip()}.")
    names = [name.strip() for name in staff if name and name.strip()][:MAX_STAFF]
    if names:
        parts.append(", ".join(names) + ".")
    parts.append(", ".join(TREATMENT_TERMS) + ".")
    if extra.strip():
        parts.append(extra.strip())
    return " ".join(parts)
