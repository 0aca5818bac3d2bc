"""What simulated patients do: seeded, randomized journeys over several days.

A journey is one patient of one practice, from one of ~60 area codes, doing a few things at
any hour: calling (saying yes or no to recording, reaching somebody or not, leaving a voicemail,
asking for a queued callback), texting, filling in the web form, opting out in a keyword or in
plain words (and sometimes back in), answering or not when called back; coordinators reply
from the inbox, sometimes naming a treatment in a way a careless matcher misses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.compliance import rules

QUESTIONS = (
    "Hi, do you have anything open Saturday?",
    "How much is a consultation?",
    "Can someone call me back about pricing for botox?",
    "I saw your ad, what are your hours?",
    "Is Dr. Lee taking new patients?",
    "I'd like to book a lip filler consult",
)
STOPS = ("STOP", "stop", " Stop ", "UNSUBSCRIBE", "cancel", "End", "QUIT", "stopall")
PLAIN_STOPS = ("please stop", "STOP ALL", "opt-out", "STOP?", "ＳＴＯＰ", "Stop texting me")
STARTS = ("START", "unstop", "Yes")
CLEAN_REPLIES = (
    "Thanks for reaching out! We have openings Saturday at 10 and 2. Which works?",
    "Happy to help. A coordinator will call you shortly.",
    "Our consultation is complimentary. Would you like to book?",
)
# Replies a coordinator might type that name a treatment, spelled the ways people spell them.
PHI_REPLIES = (
    "Your Botox touch-up is confirmed for Friday.",
    "We can fit your Juvéderm appointment in on Monday.",
    "Your micro-needling session is at 3 PM.",
    "Cool Sculpting consults are free this month!",
    "Bring your questions about the face lift to the consult.",
    "Hydra Facial openings on Tuesday.",
    "Morpheus 8 follow-up next week?",
    "Your tretinoin refill is ready to pick up.",
    "Latisse is back in stock.",
    "Zepbound pricing: call us.",
)


@dataclass(frozen=True)
class Action:
    at: datetime
    kind: str  # call, text, lead, stop, plain_stop, start, reply
    detail: dict[str, object] = field(default_factory=dict)


@dataclass
class Journey:
    n: int
    practice: int  # index into the world's practices
    phone: str
    name: str
    actions: list[Action]


def _phone(rng: random.Random, used: set[str]) -> str:
    area = rng.choice(sorted(rules.AREA_CODES))
    while True:
        phone = f"+1{area}{rng.randint(200, 989)}{rng.randint(1000, 9999)}"
        if phone not in used:
            used.add(phone)
            return phone


def _call(rng: random.Random) -> dict[str, object]:
    consent = rng.choice(["1", "1", "1", "2", "silence", "yes", "unsure yes", "no"])
    return {
        "consent": consent,
        "menu": rng.choice(["1", "2", "3"]),
        "coordinator_answers": rng.random() < 0.5,
        "voicemail_seconds": rng.choice([0, 8, 20]),
        "queue": rng.choice(["hang up", "callback", "hang up"]),
    }


def make_journeys(
    seed: int, count: int, practices: int, start: datetime, days: float
) -> list[Journey]:
    """``count`` journeys starting at any minute in the first ``days - 1`` days after
    ``start``; each lasts up to a day and a half."""
    rng = random.Random(seed)
    used: set[str] = set()
    journeys = []
    span = max(days - 1.5, 0.5) * 24 * 60
    for n in range(count):
        first = start + timedelta(minutes=rng.randrange(int(span)))
        kinds = [rng.choice(["call", "call", "text", "lead", "lead"])]
        for _ in range(rng.randint(0, 3)):
            kinds.append(
                rng.choice(
                    ["call", "text", "lead", "stop", "plain_stop", "reply", "reply", "start"]
                )
            )
        actions = []
        at = first
        for kind in kinds:
            detail: dict[str, object] = {}
            if kind == "call":
                detail = _call(rng)
            elif kind == "text":
                detail = {"body": rng.choice(QUESTIONS)}
            elif kind == "lead":
                detail = {"sms_consent": rng.random() < 0.85}
            elif kind == "stop":
                detail = {"body": rng.choice(STOPS)}
            elif kind == "plain_stop":
                detail = {"body": rng.choice(PLAIN_STOPS)}
            elif kind == "start":
                detail = {"body": rng.choice(STARTS)}
            elif kind == "reply":
                phi = rng.random() < 0.4
                detail = {"body": rng.choice(PHI_REPLIES if phi else CLEAN_REPLIES)}
            actions.append(Action(at, kind, detail))
            at += timedelta(minutes=rng.choice([2, 7, 30, 65, 180, 600, 1300]))
        journeys.append(
            Journey(
                n=n,
                practice=rng.randrange(practices),
                phone=_phone(rng, used),
                name=f"Pat{n} Sim",
                actions=actions,
            )
        )
    return journeys
