"""Parse at the edge, once: raw request values into values the database and services accept.

Every webhook, API and console route turns its input into typed values with these functions
before anything else runs, so no route fails on input it did not expect ("²" passes
``str.isdigit()`` but not ``int()``; "\\x00" is refused by PostgreSQL; 2**31 overflows an
``integer`` column; year 9999 overflows a time-zone conversion). Each parser answers a clean
value or None (or the caller's default); the view decides what a missing value means.

- ``text``: NUL and lone surrogates stripped (the rest of the content is kept), length capped.
- ``integer`` / ``ident``: ASCII digits only, within PostgreSQL ``integer`` (or given) bounds.
- ``day`` / ``moment``: ISO dates and date-times within years 1900 to 2200.
- ``choice``: one of a known vocabulary (Twilio's status values below), else None.
- ``IdConverter``: ``<int:...>`` in URL rules, limited to PostgreSQL ``integer`` (404 beyond).

No Flask here: views pass ``request.form`` / ``request.args`` values in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from werkzeug.routing import IntegerConverter

INT_MAX = 2**31 - 1  # PostgreSQL integer
BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint
MIN_YEAR, MAX_YEAR = 1900, 2200

# NUL is refused by PostgreSQL text and JSON; lone surrogates cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]+")

# Twilio's status vocabularies (what its callbacks may carry).
CALL_STATUSES = frozenset(
    {
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
    }
)
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
RECORDING_STATUSES = frozenset({"in-progress", "completed", "absent", "failed"})
MESSAGE_STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "canceled",
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "read",
        "partially_delivered",
        "delivery_unknown",
    }
)
QUEUE_RESULTS = frozenset(
    {
        "bridged",
        "bridging-in-process",
        "error",
        "hangup",
        "leave",
        "queue-full",
        "redirected",
        "redirected-from-bridged",
        "system-error",
    }
)


def text(raw: Any, limit: int | None = None) -> str:
    """``raw`` as storable text: NUL and lone surrogates removed, at most ``limit`` characters.

    Anything that is not a string (None, a number or a list from JSON) is the empty string.
    """
    if not isinstance(raw, str):
        return ""
    clean = _UNSTORABLE.sub("", raw)
    return clean[:limit] if limit is not None else clean


def line(raw: Any, limit: int | None = None) -> str:
    """``text`` on one line: surrounding whitespace stripped, inner runs folded to one space."""
    return text(" ".join(text(raw).split()), limit)


def token(raw: Any, limit: int = 64) -> str:
    """A short machine value (a status, a key, digits): stripped; too long means absent."""
    value = text(raw).strip()
    return value if len(value) <= limit else ""


def integer(
    raw: Any, *, low: int = 0, high: int = INT_MAX, default: int | None = None
) -> int | None:
    """A whole number written in ASCII digits (an optional leading minus), within
    ``low..high``; otherwise ``default``. Superscripts, other scripts' digits, signs, spaces
    inside and values beyond the bounds are all ``default``."""
    if isinstance(raw, bool):
        return default
    if isinstance(raw, int):
        value = raw
    else:
        value_text = token(raw, 20)
        negative = value_text.startswith("-")
        digits = value_text[1:] if negative else value_text
        if not _DIGITS.fullmatch(digits):
            return default
        value = -int(digits) if negative else int(digits)
    return value if low <= value <= high else default


def ident(raw: Any) -> int | None:
    """A row id: a positive PostgreSQL integer, or None."""
    return integer(raw, low=1)


def number(raw: Any, *, low: float, high: float) -> float | None:
    """A finite decimal number within ``low..high`` (e.g. a speech confidence), or None."""
    value_text = token(raw, 32)
    if not value_text or not re.fullmatch(r"-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?", value_text):
        return None
    value = float(value_text)
    return value if low <= value <= high else None


def day(raw: Any) -> date | None:
    """An ISO date (YYYY-MM-DD) in years 1900 to 2200, or None."""
    value_text = token(raw, 10)
    try:
        value = date.fromisoformat(value_text)
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


def moment(raw: Any) -> datetime | None:
    """An ISO date-time (with or without offset) in years 1900 to 2200, or None."""
    value_text = token(raw, 40)
    try:
        value = datetime.fromisoformat(value_text)
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


def choice(raw: Any, allowed: Collection[str], *, lower: bool = True) -> str | None:
    """``raw`` (stripped, lower-cased unless ``lower=False``) when it is one of ``allowed``."""
    value = token(raw)
    value = value.lower() if lower else value
    return value if value in allowed else None


def json_body(raw: bytes) -> Any:
    """A request body parsed as JSON, or None when it is not JSON (bad UTF-8, bad syntax, or
    nested too deeply for the parser)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


class IdConverter(IntegerConverter):
    """``<int:...>`` in URL rules: an id that fits PostgreSQL ``integer``; anything larger
    does not match the rule (404) instead of overflowing the query."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)
