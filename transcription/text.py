"""Transcript text as spoken words: for QA phrase matching and word error, not for display.

Whisper writes what it hears the way people write it ("Hello,", "10:30", "$50", "4th", "1990",
"20%"); the transcript keeps that for reading. QA phrases and reference scripts are spoken
words, so both sides are reduced to lower-case spoken words before they are compared:
"Glow Aesthetics," matches "glow aesthetics", "1030" matches "ten thirty".
"""

from __future__ import annotations

import re

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def number_words(n: int) -> str:
    """Spell a number below a million as it is usually spoken ("two hundred fifty")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        rest_words = "" if rest == 0 else " " + number_words(rest)
        return number_words(thousands) + " thousand" + rest_words
    return " ".join(_ONES[int(d)] for d in str(n))


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINALS:
        last = _ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _digits(token: str) -> str:
    """A run of digits as said: 1990 "nineteen ninety", 1030 "ten thirty", 250 "two hundred
    fifty"; long strings (phone numbers) digit by digit."""
    if len(token) > 1 and token.startswith("0") or len(token) > 4:
        return " ".join(_ONES[int(d)] for d in token)
    n = int(token)
    if len(token) == 4 and n % 1000 != 0 and n // 100 >= 10:
        high, low = divmod(n, 100)
        if low == 0:
            return number_words(high) + " hundred"
        return number_words(high) + " " + (("oh " + _ONES[low]) if low < 10 else number_words(low))
    return number_words(n)


_TIME = re.compile(r"\b(\d{1,2})[:.](\d\d)\b")
# Phone numbers and other digit strings written in groups: "(310) 555-0142", "4111-2222".
_PHONE = re.compile(r"\(?\b\d{3}\)?[ -.]?\d{3}[-.]\d{4}\b|\b\d+(?:-\d+)+\b")
_MONEY = re.compile(r"\$(\d+)(?:\.(\d\d))?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+")


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute == 0:
        return f" {number_words(hour)} "
    said = number_words(minute) if minute >= 10 else "oh " + _ONES[minute]
    return f" {number_words(hour)} {said} "


def _money(match: re.Match[str]) -> str:
    amount = match.group(1)
    dollars = _digits(amount) if len(amount) > 4 else number_words(int(amount))
    cents = f" and {number_words(int(match.group(2)))} cents" if match.group(2) else ""
    return f" {dollars} dollars{cents} "


def _digit_by_digit(match: re.Match[str]) -> str:
    return " " + " ".join(_ONES[int(d)] for d in match.group() if d.isdigit()) + " "


def spoken_words(text: str) -> list[str]:
    """Lower-case spoken words: numbers spelled out, punctuation dropped (apostrophes kept)."""
    text = text.lower().replace("%", " percent ").replace("&", " and ")
    text = _PHONE.sub(_digit_by_digit, text)
    text = _MONEY.sub(_money, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: f" {_ordinal(number_words(int(m.group(1))))} ", text)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,200
    text = _NUMBER.sub(lambda m: f" {_digits(m.group())} ", text)
    kept = "".join(ch if ch.isalnum() or ch in "' " else " " for ch in text)
    return [w.strip("'") for w in kept.split() if w.strip("'")]


def spoken(text: str) -> str:
    """spoken_words joined by single spaces."""
    return " ".join(spoken_words(text))
