"""Automatic scoring: each automatic criterion met or missed, with evidence a reviewer can seek to.

Pure functions over speaker turns (``transcription.turns.Turn``): no database here.

A criterion's phrases and patterns are matched against the words of the turns of its speaker
(optionally only words said within its time window, counted from the start of the recording).
Recognizers write words as people write them (Whisper: "Glow Aesthetics,", "10:30"), so the
transcript's words and the phrases are both reduced to lower-case spoken words
(``transcription.text``: "ten thirty") and matched as whole-word sequences. Telephone speech
recognition drops and swaps words, so a phrase of four or more words also matches with one
word missing, extra or wrong, and a phrase that is only a name ("{practice}") matches a run of
at least half of the name's words (two at least: "park avenue" for "Park Avenue Skin Center"),
since proper names are what recognizers miss most. Criteria that must be *absent* (clinical
advice, pressure) match exactly, so a recognition slip does not accuse a coordinator of
something they did not say.

The criteria are written in English. When every turn of a criterion's speaker was transcribed
in another language (a Spanish-speaking patient's channel), the criterion is not judged (met
None) rather than missed: an English phrase cannot be looked for in Spanish speech.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from transcription.text import spoken, spoken_words
from transcription.turns import Turn

ANY_SPEAKER = "any"
CRITERIA_LANGUAGE = "en"
FUZZY_MIN_WORDS = 4


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    label: str
    weight: float
    kind: str = "automatic"  # or "manual"
    speaker: str = "coordinator"  # "patient", "coordinator" or "any"
    expect: str = "present"  # or "absent"
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    within_s: float | None = None
    compliance: bool = False


@dataclass(frozen=True)
class CallContext:
    """Names the phrases may refer to: {practice}, {coordinator}, {patient}."""

    practice: str | None = None
    coordinator: str | None = None
    patient: str | None = None


@dataclass(frozen=True)
class Evidence:
    speaker: str
    start_s: float
    end_s: float
    text: str
    matched: str  # the phrase or pattern that matched

    def as_dict(self) -> dict[str, object]:
        return {
            "speaker": self.speaker,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "text": self.text,
            "matched": self.matched,
        }


@dataclass(frozen=True)
class Judgement:
    key: str
    met: bool | None  # None: not judged automatically (manual, or a name we do not know)
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class CallJudgement:
    judgements: tuple[Judgement, ...]
    score: float
    compliance_flag: bool
    flagged: tuple[str, ...] = field(default_factory=tuple)


def normalize(text: str) -> str:
    """Lower-case spoken words, apostrophes kept, numbers spelled out, punctuation dropped."""
    return spoken(text)


def _in_other_language(turns: Sequence[Turn]) -> bool:
    """Whether these turns were all transcribed in a language other than the criteria's."""
    known = [t.language for t in turns if t.words]
    return bool(known) and all(lang is not None and lang != CRITERIA_LANGUAGE for lang in known)


_PLACEHOLDER = re.compile(r"\{(practice|coordinator|patient)\}")


def _expand(phrase: str, context: CallContext) -> str | None:
    """Fill placeholders; None when a needed name is unknown (the phrase cannot be judged)."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = getattr(context, match.group(1))
        if not value:
            missing = True
            return ""
        return normalize(value)

    expanded = _PLACEHOLDER.sub(fill, phrase)
    return None if missing else normalize(expanded)


def _near(window: Sequence[str], phrase: Sequence[str]) -> bool:
    """Edit distance at most one between two word sequences."""
    if abs(len(window) - len(phrase)) > 1:
        return False
    previous = list(range(len(phrase) + 1))
    for i, a in enumerate(window, start=1):
        current = [i] + [0] * len(phrase)
        for j, b in enumerate(phrase, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
        previous = current
    return previous[-1] <= 1


def _phrase_hits(words: Sequence[str], phrase: Sequence[str], fuzzy: bool) -> list[tuple[int, int]]:
    """Spans [i, j) of ``words`` matching ``phrase`` (exactly, or within one edit)."""
    n = len(phrase)
    hits = [(i, i + n) for i in range(len(words) - n + 1) if list(words[i : i + n]) == list(phrase)]
    if hits or not fuzzy or n < FUZZY_MIN_WORDS:
        return hits
    for size in (n - 1, n + 1):
        for i in range(len(words) - size + 1):
            window = words[i : i + size]
            # The phrase's first and last words anchor the match, so one slip is all we forgive.
            if (window[0] == phrase[0] or window[-1] == phrase[-1]) and _near(window, phrase):
                return [(i, i + size)]
    return []


def _name_hits(words: Sequence[str], name: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of ``words`` holding a run of at least half of ``name``'s words, in order."""
    need = max(min(2, len(name)), -(-len(name) // 2))
    for size in range(len(name), need - 1, -1):
        for start in range(len(name) - size + 1):
            hits = _phrase_hits(words, name[start : start + size], fuzzy=False)
            if hits:
                return hits
    return []


def _pattern_hits(words: Sequence[str], pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    text = " ".join(words)
    starts = []
    offset = 0
    for w in words:
        starts.append(offset)
        offset += len(w) + 1
    spans = []
    for m in pattern.finditer(text):
        first = max(i for i, s in enumerate(starts) if s <= m.start()) if starts else 0
        last = max(i for i, s in enumerate(starts) if s < max(m.end(), m.start() + 1))
        spans.append((first, last + 1))
    return spans


def judge(spec: CriterionSpec, turns: Sequence[Turn], context: CallContext) -> Judgement:
    """Judge one criterion on a call's turns."""
    if spec.kind != "automatic":
        return Judgement(spec.key, None)
    expanded = [
        (_expand(p, context), _PLACEHOLDER.fullmatch(p.strip()) is not None) for p in spec.phrases
    ]
    usable = [(p.split(), is_name) for p, is_name in expanded if p]
    patterns = [re.compile(p) for p in spec.patterns]
    if not usable and not patterns:
        return Judgement(spec.key, None)
    fuzzy = spec.expect == "present"
    evidence: list[Evidence] = []
    theirs = [t for t in turns if spec.speaker == ANY_SPEAKER or t.speaker == spec.speaker]
    if _in_other_language(theirs):
        return Judgement(spec.key, None)
    for turn in theirs:
        said = [w for w in turn.words if spec.within_s is None or w.start_s <= spec.within_s]
        # One written word may be several spoken ones ("10:30"): match on the spoken words,
        # remembering which written word each came from for the evidence's times.
        texts: list[str] = []
        words = []
        for w in said:
            for token in spoken_words(w.text):
                texts.append(token)
                words.append(w)
        if not words:
            continue
        matchers = [
            (
                " ".join(p),
                _name_hits(texts, p) if is_name and fuzzy else _phrase_hits(texts, p, fuzzy),
            )
            for p, is_name in usable
        ]
        matchers += [(p.pattern, _pattern_hits(texts, p)) for p in patterns]
        for matched, spans in matchers:
            for first, last in spans:
                evidence.append(
                    Evidence(
                        speaker=turn.speaker,
                        start_s=words[first].start_s,
                        end_s=words[last - 1].end_s,
                        text=" ".join(texts[first:last]),
                        matched=matched,
                    )
                )
    evidence.sort(key=lambda e: e.start_s)
    found = bool(evidence)
    return Judgement(spec.key, found if spec.expect == "present" else not found, tuple(evidence))


def score_call(
    specs: Sequence[CriterionSpec], turns: Sequence[Turn], context: CallContext
) -> CallJudgement:
    """Judge every criterion; the score is the met weight over the judged weight, in percent."""
    judgements = tuple(judge(spec, turns, context) for spec in specs)
    flagged = tuple(
        s.key for s, j in zip(specs, judgements, strict=True) if s.compliance and j.met is False
    )
    return CallJudgement(
        judgements=judgements,
        score=weighted_score(specs, [j.met for j in judgements]),
        compliance_flag=bool(flagged),
        flagged=flagged,
    )


def weighted_score(specs: Sequence[CriterionSpec], results: Sequence[bool | None]) -> float:
    judged = [(s.weight, met) for s, met in zip(specs, results, strict=True) if met is not None]
    total = sum(w for w, _ in judged)
    if total <= 0:
        return 0.0
    return round(100.0 * sum(w for w, met in judged if met) / total, 1)
