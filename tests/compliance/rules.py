"""The compliance checker's own knowledge, written apart from the product's code on purpose:
where a number rings (area code -> zone and state), the calling windows, the treatment words a
text must never carry, and what a patient's opt-out looks like. If the product and the checker
shared a table, a wrong table would pass its own check.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time
from zoneinfo import ZoneInfo

# ~60 area codes, each inside one time zone (so the callee's local time is known).
AREA_CODES: dict[str, tuple[str, str]] = {
    # Florida (Eastern part)
    "305": ("America/New_York", "FL"),
    "407": ("America/New_York", "FL"),
    "813": ("America/New_York", "FL"),
    "954": ("America/New_York", "FL"),
    "561": ("America/New_York", "FL"),
    "727": ("America/New_York", "FL"),
    "904": ("America/New_York", "FL"),
    "239": ("America/New_York", "FL"),
    "321": ("America/New_York", "FL"),
    # Connecticut, New Jersey, Maryland, Oklahoma, Mississippi
    "203": ("America/New_York", "CT"),
    "860": ("America/New_York", "CT"),
    "201": ("America/New_York", "NJ"),
    "609": ("America/New_York", "NJ"),
    "732": ("America/New_York", "NJ"),
    "973": ("America/New_York", "NJ"),
    "301": ("America/New_York", "MD"),
    "410": ("America/New_York", "MD"),
    "405": ("America/Chicago", "OK"),
    "918": ("America/Chicago", "OK"),
    "601": ("America/Chicago", "MS"),
    "662": ("America/Chicago", "MS"),
    # The rest of the country
    "212": ("America/New_York", "NY"),
    "718": ("America/New_York", "NY"),
    "917": ("America/New_York", "NY"),
    "585": ("America/New_York", "NY"),
    "617": ("America/New_York", "MA"),
    "215": ("America/New_York", "PA"),
    "412": ("America/New_York", "PA"),
    "216": ("America/New_York", "OH"),
    "614": ("America/New_York", "OH"),
    "313": ("America/Detroit", "MI"),
    "404": ("America/New_York", "GA"),
    "770": ("America/New_York", "GA"),
    "704": ("America/New_York", "NC"),
    "919": ("America/New_York", "NC"),
    "703": ("America/New_York", "VA"),
    "312": ("America/Chicago", "IL"),
    "773": ("America/Chicago", "IL"),
    "214": ("America/Chicago", "TX"),
    "512": ("America/Chicago", "TX"),
    "713": ("America/Chicago", "TX"),
    "612": ("America/Chicago", "MN"),
    "615": ("America/Chicago", "TN"),
    "504": ("America/Chicago", "LA"),
    "303": ("America/Denver", "CO"),
    "720": ("America/Denver", "CO"),
    "801": ("America/Denver", "UT"),
    "480": ("America/Phoenix", "AZ"),
    "602": ("America/Phoenix", "AZ"),
    "702": ("America/Los_Angeles", "NV"),
    "206": ("America/Los_Angeles", "WA"),
    "425": ("America/Los_Angeles", "WA"),
    "503": ("America/Los_Angeles", "OR"),
    "213": ("America/Los_Angeles", "CA"),
    "310": ("America/Los_Angeles", "CA"),
    "415": ("America/Los_Angeles", "CA"),
    "619": ("America/Los_Angeles", "CA"),
    "714": ("America/Los_Angeles", "CA"),
    "916": ("America/Los_Angeles", "CA"),
    "808": ("Pacific/Honolulu", "HI"),
    "907": ("America/Anchorage", "AK"),
}

FEDERAL = (time(8, 0), time(21, 0))  # 47 CFR 64.1200(c)(1)
# States with a narrower window for telephone solicitation (calls and texts).
STATE_WINDOWS: dict[str, tuple[time, time]] = {
    "FL": (time(8, 0), time(20, 0)),  # Fla. Stat. 501.059(8)(a)
    "OK": (time(8, 0), time(20, 0)),  # Okla. Stat. tit. 15, 775C.4
    "MD": (time(8, 0), time(20, 0)),  # Md. Com. Law 14-4503 (Stop the Spam Calls Act)
    "MS": (time(8, 0), time(20, 0)),  # Miss. Code 77-3-725
    "NJ": (time(8, 0), time(20, 0)),  # N.J. Admin. Code 13:45D-4.1
    "CT": (time(9, 0), time(20, 0)),  # Conn. Gen. Stat. 42-288a
}
DAILY_CAP = 3  # attempts per patient per rolling 24 hours (Fla. Stat. 501.059(8)(b))

# Treatment, device and drug names a text must never carry (folded: accents, case, spacing).
TREATMENT_TERMS = (
    "botox",
    "dysport",
    "xeomin",
    "juvederm",
    "restylane",
    "sculptra",
    "radiesse",
    "kybella",
    "filler",
    "lip filler",
    "coolsculpting",
    "emsculpt",
    "microneedling",
    "morpheus8",
    "hydrafacial",
    "chemical peel",
    "laser hair removal",
    "ipl",
    "fraxel",
    "ultherapy",
    "thermage",
    "facelift",
    "brow lift",
    "rhinoplasty",
    "nose job",
    "liposuction",
    "tummy tuck",
    "breast augmentation",
    "blepharoplasty",
    "labiaplasty",
    "semaglutide",
    "ozempic",
    "wegovy",
    "tirzepatide",
    "mounjaro",
    "zepbound",
    "saxenda",
    "tretinoin",
    "latisse",
    "dermaplaning",
    "microblading",
    "sclerotherapy",
    "prp",
)

STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
START_WORDS = {"start", "unstop", "yes"}


def fold(text: str) -> str:
    """Lower case, accents off, full-width to plain, every non-letter run to one space."""
    plain = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _squeezed(text: str) -> str:
    return fold(text).replace(" ", "")


def treatment_terms_in(text: str) -> list[str]:
    """Terms found: as words ("ipl", "prp" only as whole words), others also run together."""
    words = f" {fold(text)} "
    squeezed = _squeezed(text)
    found = []
    for term in TREATMENT_TERMS:
        if len(term) <= 3:
            if f" {term} " in words:
                found.append(term)
        elif term.replace(" ", "") in squeezed:
            found.append(term)
    return found


def is_opt_out(body: str) -> bool:
    """The checker's own reading of an opt-out: the STOP family as the whole message, and the
    plain phrasings the journeys use (FCC 24-18: any reasonable means)."""
    words = fold(body)
    if words.replace(" ", "") in STOP_WORDS or words in {"stop all", "opt out"}:
        return True
    return words in {
        "please stop",
        "stop texting me",
        "stop please",
        "no more texts",
        "take me off your list",
        "remove me",
        "do not contact me",
        "stop calling me",
    }


def is_opt_in(body: str) -> bool:
    return fold(body).replace(" ", "") in START_WORDS


def where(phone: str) -> tuple[ZoneInfo, str] | None:
    if not phone.startswith("+1") or len(phone) != 12:
        return None
    zone, state = AREA_CODES.get(phone[2:5], ("", ""))
    return (ZoneInfo(zone), state) if zone else None


def quiet_rule_broken(phone: str, at: datetime) -> str | None:
    """'federal' or 'state' when ``at`` is outside the callee's allowed window, else None."""
    place = where(phone)
    if place is None:
        return None
    zone, state = place
    local = at.astimezone(zone).time()
    if not FEDERAL[0] <= local < FEDERAL[1]:
        return "federal"
    window = STATE_WINDOWS.get(state)
    if window is not None and not window[0] <= local < window[1]:
        return "state"
    return None
