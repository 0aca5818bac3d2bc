"""When a patient may be called or sent an unsolicited text: the federal window and the states
that are stricter, in one table, with the source of each rule.

Federal: 47 CFR 64.1200(c)(1) (TCPA rules) bars telephone solicitations before 8:00 or after
21:00 at the called party's location; the product applies it to every outbound call and
every unsolicited text (DESIGN.md, quiet hours). A state entry narrows that window for numbers
in the state: the stricter of the two applies, every day of the year. Where a state law names
calls only, the product applies it to texts too: the same statutes define a "telephonic sales
call" or "telephone solicitation" to include text messages (Fla. Stat. 501.059(1); 15 Okla.
Stat. 775C.2; Md. Code, Com. Law 14-4501; Conn. Gen. Stat. 42-284 as amended by P.A. 23-98),
and an unsolicited text at 20:30 is what the practice would be sued for.

The callee's state comes from the number's area code (``AREA_CODES``: every area code of the
listed states, cross-checked in the tests against ``phonenumbers``' geocoder, which also answers
for codes added after this table). A number with no state (toll-free, foreign) falls back to
the practice's own number's state. This table is not legal advice: review it with counsel
when the practice's footprint grows; holidays are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import phonenumbers
from phonenumbers import geocoder

FEDERAL_FROM = time(8, 0)
FEDERAL_UNTIL = time(21, 0)

SUNDAY = 6  # date.weekday()


@dataclass(frozen=True)
class StateRule:
    state: str
    allowed_from: time
    allowed_until: time
    closed_weekdays: frozenset[int]
    source: str


STATE_RULES: dict[str, StateRule] = {
    rule.state: rule
    for rule in (
        # Fla. Stat. 501.616(6)(a), as amended by ch. 2021-91 (SB 1120): no commercial
        # telephone solicitation "before 8 a.m. or after 8 p.m. local time at the called
        # person's location" (was 9 p.m.).
        StateRule("FL", time(8, 0), time(20, 0), frozenset(), "Fla. Stat. 501.616(6)(a)"),
        # 15 Okla. Stat. 775C.4 (Telephone Solicitation Act of 2022, in force 2022-11-01):
        # commercial telephonic sales calls (calls, texts, voicemail) 8 a.m. to 8 p.m. in the
        # called party's time zone.
        StateRule("OK", time(8, 0), time(20, 0), frozenset(), "15 Okla. Stat. 775C.4"),
        # Md. Code, Com. Law 14-4502 (Stop the Spam Calls Act of 2023, in force 2024-01-01):
        # telephone solicitations (calls and texts) only 8 a.m. to 8 p.m. at the called
        # party's location.
        StateRule("MD", time(8, 0), time(20, 0), frozenset(), "Md. Code, Com. Law 14-4502"),
        # Miss. Code Ann. 77-3-723 (Mississippi Telephone Solicitation Act): 8 a.m. to 8 p.m.
        # and "no telephone solicitations may be made on a Sunday" (77-3-723(1)). The
        # holiday ban went with the repeal of 39 Miss. Admin. Code Pt. I, R. 1:28 (2023).
        StateRule("MS", time(8, 0), time(20, 0), frozenset({SUNDAY}), "Miss. Code Ann. 77-3-723"),
        # N.J. Stat. 56:8-128(d) reads 8 a.m. to 9 p.m. (the federal window); the product
        # keeps New Jersey at 8 p.m., as issue 11 reported it: stricter than the statute is
        # always lawful, and counsel may relax it to 21:00 here.
        StateRule(
            "NJ",
            time(8, 0),
            time(20, 0),
            frozenset(),
            "N.J. Stat. 56:8-128(d) (8-21); product policy 8-20",
        ),
        # Conn. Gen. Stat. 42-288a, as amended by P.A. 23-98 (in force 2023-10-01):
        # telephonic sales calls, including text or media messages, only 9 a.m. to 8 p.m.
        StateRule("CT", time(9, 0), time(20, 0), frozenset(), "Conn. Gen. Stat. 42-288a"),
    )
}

AREA_CODES: dict[str, frozenset[str]] = {
    "FL": frozenset(
        [
            "239",
            "305",
            "321",
            "324",
            "352",
            "386",
            "407",
            "448",
            "561",
            "645",
            "656",
            "689",
            "727",
            "728",
            "754",
            "772",
            "786",
            "813",
            "850",
            "863",
            "904",
            "941",
            "954",
        ]
    ),
    "OK": frozenset(["405", "539", "572", "580", "918"]),
    "MD": frozenset(["227", "240", "301", "410", "443", "667"]),
    "MS": frozenset(["228", "601", "662", "769"]),
    "NJ": frozenset(["201", "551", "609", "640", "732", "848", "856", "862", "908", "973"]),
    "CT": frozenset(["203", "475", "860", "959"]),
}
_BY_AREA_CODE = {code: state for state, codes in AREA_CODES.items() for code in codes}
_STATE_NAMES = {
    "Florida": "FL",
    "Oklahoma": "OK",
    "Maryland": "MD",
    "Mississippi": "MS",
    "New Jersey": "NJ",
    "Connecticut": "CT",
}


def state_of(e164: str | None) -> str | None:
    """The state of a NANP number's area code, when it is one with its own calling hours
    (None otherwise: another state, toll-free, foreign, unreadable)."""
    if not e164 or not e164.startswith("+1") or len(e164) < 5:
        return None
    state = _BY_AREA_CODE.get(e164[2:5])
    if state is not None:
        return state
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    description = geocoder.description_for_number(parsed, "en")
    name = description.rsplit(", ", 1)[-1]
    return _STATE_NAMES.get(name) or (name if name in STATE_RULES else None)


@dataclass(frozen=True)
class Window:
    """The allowed local hours for one callee; ``sources`` says which rules made it."""

    allowed_from: time
    allowed_until: time
    closed_weekdays: frozenset[int]
    sources: tuple[str, ...]

    def spoken(self) -> str:
        """ "8 AM to 9 PM" (and "except Sunday"), for people."""
        hours = f"{_clock(self.allowed_from)} to {_clock(self.allowed_until)}"
        return hours + (" except Sunday" if SUNDAY in self.closed_weekdays else "")


def _clock(at: time) -> str:
    text = f"{at.hour % 12 or 12}" + (f":{at.minute:02d}" if at.minute else "")
    return text + (" AM" if at.hour < 12 else " PM")


FEDERAL = Window(FEDERAL_FROM, FEDERAL_UNTIL, frozenset(), ("47 CFR 64.1200(c)(1)",))


def window_for(phone: str, practice_number: str | None = None) -> Window:
    """The stricter of the federal window and the callee's state window (the number's state;
    when the number has none, the practice's state)."""
    state = state_of(phone)
    if state is None and not _is_geographic_us(phone):
        state = state_of(practice_number)
    rule = STATE_RULES.get(state) if state else None
    if rule is None:
        return FEDERAL
    return Window(
        max(FEDERAL_FROM, rule.allowed_from),
        min(FEDERAL_UNTIL, rule.allowed_until),
        rule.closed_weekdays,
        (*FEDERAL.sources, rule.source),
    )


def _is_geographic_us(phone: str) -> bool:
    """A US number with a place (so "no state rule" is an answer, not an unknown)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(
        phonenumbers.region_code_for_number(parsed) == "US"
        and geocoder.description_for_number(parsed, "en")
    )
