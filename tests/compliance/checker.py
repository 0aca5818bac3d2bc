"""Checks what left the product, from the outside: the TwiML it served and the REST requests it
made, against what the simulated patients did. Knows nothing of the product's code (see
``rules`` for its own tables).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.compliance import rules

REPLY_WINDOW = timedelta(hours=1)  # a text this soon after the patient wrote, called or filled
CAP_WINDOW = timedelta(hours=24)

RULES = (
    "recording_without_consent",
    "text_after_opt_out",
    "call_after_opt_out",
    "call_in_federal_quiet_hours",
    "call_in_state_quiet_hours",
    "text_in_federal_quiet_hours",
    "text_in_state_quiet_hours",
    "treatment_term_in_text",
    "attempt_dialed_twice",
    "two_dials_at_once",
    "over_daily_cap",
)


_order = itertools.count()


def next_seq() -> int:
    """Observation order (several things happen at one simulated moment)."""
    return next(_order)


@dataclass(frozen=True)
class Text:
    at: datetime
    practice: str  # the practice number it came from
    to: str
    body: str
    seq: int = field(default_factory=next_seq)


@dataclass(frozen=True)
class PatientDial:
    """A <Dial><Number> of a patient in TwiML served on a dialer leg."""

    at: datetime
    practice: str
    to: str
    attempt: str  # the attempt the coordinator leg was placed for (from its URL)
    leg_sid: str
    seq: int = field(default_factory=next_seq)


@dataclass(frozen=True)
class Recording:
    at: datetime
    practice: str
    patient: str
    call_sid: str


@dataclass
class Log:
    """Everything observed, in the order it happened."""

    # (seq, at, practice number, patient, body) of each text the patient sent
    patient_texts: list[tuple[int, datetime, str, str, str]] = field(default_factory=list)
    # (at, practice number, patient): any contact the patient started (text, call, form)
    contacts: list[tuple[datetime, str, str]] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    dials: list[PatientDial] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    # call SIDs of inbound calls whose caller said yes to recording, and one-party practices
    consented_calls: set[str] = field(default_factory=set)
    one_party: set[str] = field(default_factory=set)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


Period = tuple[int, int | None, str]  # (seq of the opt-out, seq of the opt-in, the words)


def _opt_out_periods(log: Log) -> dict[tuple[str, str], list[Period]]:
    periods: dict[tuple[str, str], list[Period]] = defaultdict(list)
    for seq, _at, practice, patient, body in sorted(log.patient_texts):
        spans = periods[(practice, patient)]
        open_span = bool(spans) and spans[-1][1] is None
        if rules.is_opt_out(body) and not open_span:
            spans.append((seq, None, body))
        elif rules.is_opt_in(body) and open_span:
            spans[-1] = (spans[-1][0], seq, spans[-1][2])
    return periods


def _opt_out_in_force(
    periods: dict[tuple[str, str], list[Period]], practice: str, patient: str, seq: int
) -> Period | None:
    for period in periods.get((practice, patient), []):
        start, end, _ = period
        if start < seq and (end is None or seq < end):
            return period
    return None


def check(log: Log) -> Counter[str]:
    counts: Counter[str] = Counter({rule: 0 for rule in RULES})

    def flag(rule: str, detail: str) -> None:
        counts[rule] += 1
        if len(log.examples[rule]) < 5:
            log.examples[rule].append(detail)

    periods = _opt_out_periods(log)
    contacts: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for at, practice, patient in log.contacts:
        contacts[(practice, patient)].append(at)

    confirmed: set[int] = set()
    for text in sorted(log.texts, key=lambda t: t.seq):
        key = (text.practice, text.to)
        period = _opt_out_in_force(periods, text.practice, text.to, text.seq)
        if period is not None:
            # One confirmation, sent at the moment of the opt-out, is expected.
            stop_at = next(p[1] for p in log.patient_texts if p[0] == period[0])
            if text.at == stop_at and period[0] not in confirmed:
                confirmed.add(period[0])
            else:
                flag(
                    "text_after_opt_out",
                    f"{text.at:%m-%d %H:%M}Z {text.to} (after {period[2]!r}): {text.body[:50]}",
                )
        terms = rules.treatment_terms_in(text.body)
        if terms:
            flag("treatment_term_in_text", f"{terms} in {text.body[:80]!r}")
        replying = any(
            c <= text.at <= c + REPLY_WINDOW for c in contacts.get(key, []) if c <= text.at
        )
        if not replying:
            broken = rules.quiet_rule_broken(text.to, text.at)
            if broken:
                flag(f"text_in_{broken}_quiet_hours", f"{text.at:%m-%d %H:%M}Z {text.to}")

    by_attempt: Counter[str] = Counter()
    by_patient: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for dial in sorted(log.dials, key=lambda d: d.seq):
        key = (dial.practice, dial.to)
        by_attempt[dial.attempt] += 1
        if by_attempt[dial.attempt] > 1:
            flag("attempt_dialed_twice", f"attempt {dial.attempt} to {dial.to}")
        broken = rules.quiet_rule_broken(dial.to, dial.at)
        if broken:
            flag(f"call_in_{broken}_quiet_hours", f"{dial.at:%m-%d %H:%M}Z {dial.to}")
        period = _opt_out_in_force(periods, dial.practice, dial.to, dial.seq)
        if period is not None:
            flag("call_after_opt_out", f"{dial.at:%m-%d %H:%M}Z {dial.to} (after {period[2]!r})")
        earlier = by_patient[key]
        if any(e == dial.at for e in earlier):
            flag("two_dials_at_once", f"{dial.at:%m-%d %H:%M}Z {dial.to}")
        window = [e for e in earlier if dial.at - e < CAP_WINDOW]
        if len(window) >= rules.DAILY_CAP:
            flag("over_daily_cap", f"{dial.at:%m-%d %H:%M}Z {dial.to}: {len(window) + 1} in 24 h")
        earlier.append(dial.at)

    for rec in log.recordings:
        if rec.practice in log.one_party:
            continue
        if rec.call_sid not in log.consented_calls:
            flag("recording_without_consent", f"{rec.call_sid} from {rec.patient}")
    return counts
