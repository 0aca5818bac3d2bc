"""The journeys every practice starts with (created on the practice's first event, so new and
existing practices alike get them; admins edit them as new versions).

Texts name the practice, stay under 160 characters with the longest first name we allow, carry
an opt-out line and name no treatment (the PHI check refuses "treatment" itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from journeys.models import ConsentClass, JourneyEvent, StepAction, StepCondition

HOUR = 60
DAY = 24 * HOUR
STOP = " Reply STOP to opt out."


@dataclass(frozen=True)
class StepSpec:
    event: JourneyEvent
    delay_minutes: int
    action: StepAction
    body: str
    condition: StepCondition = StepCondition.NONE
    consent_class: ConsentClass = ConsentClass.CARE
    call_without_consent: bool = False


@dataclass(frozen=True)
class JourneySpec:
    key: str
    name: str
    steps: tuple[StepSpec, ...]


E, A, C = JourneyEvent, StepAction, StepCondition

REACTIVATION_TEXT = "{practice}: Hi {first_name}, we'd love to see you again! Reply to book." + STOP

DEFAULT_JOURNEYS: tuple[JourneySpec, ...] = (
    JourneySpec(
        "post_visit",
        "After a visit",
        (
            StepSpec(
                E.FULFILLED,
                30,
                A.TEXT,
                "{practice}: Thank you for visiting us today, {first_name}! Questions? Just reply."
                + STOP,
            ),
            # 24-48 h check-in: a coordinator calls when the service needs one, else a text.
            StepSpec(
                E.FULFILLED,
                DAY,
                A.CALL_TASK,
                "check-in call after a visit that needs one",
                C.NO_CHECKIN_NEEDED,
            ),
            StepSpec(
                E.FULFILLED,
                DAY,
                A.TEXT,
                "{practice}: Hi {first_name}, checking in after your visit. How are you feeling?"
                + STOP,
                C.NEEDS_CHECKIN,
            ),
            StepSpec(
                E.FULFILLED,
                7 * DAY,
                A.TEXT,
                "{practice}: Hi {first_name}, it has been a week since your visit. How do you "
                "like your results?" + STOP,
            ),
        ),
    ),
    JourneySpec(
        "consultation",
        "Consultation without a booking",
        (
            StepSpec(
                E.CONSULTATION,
                DAY,
                A.CALL_TASK,
                "follow-up call: consultation, nothing booked yet",
                C.BOOKED_SINCE,
            ),
            StepSpec(
                E.CONSULTATION,
                4 * DAY,
                A.TEXT,
                "{practice}: Hi {first_name}, thanks again for coming in. Ready to book your "
                "next visit? Just reply." + STOP,
                C.BOOKED_SINCE,
            ),
        ),
    ),
    JourneySpec(
        "no_show",
        "No-show",
        (
            StepSpec(
                E.NOSHOW,
                15,
                A.TEXT,
                "{practice}: Hi {first_name}, we missed you today. Reply and we will find you a "
                "new time." + STOP,
                C.BOOKED_SINCE,
            ),
            StepSpec(
                E.NOSHOW,
                DAY,
                A.CALL_TASK,
                "rebook call after a no-show",
                C.BOOKED_SINCE,
            ),
        ),
    ),
    # The same ask for every patient (never gated on a score or sentiment), then one reminder
    # to those who did not click; at most one ask per patient per 6 months (journeys.reviews).
    JourneySpec(
        "review_request",
        "Review request",
        (
            StepSpec(
                E.FULFILLED,
                2 * DAY,
                A.REVIEW_ASK,
                "{practice}: Thank you, {first_name}! Would you review us? {link}" + STOP,
            ),
            StepSpec(
                E.FULFILLED,
                7 * DAY,
                A.REVIEW_REMINDER,
                "{practice}: Hi {first_name}, a quick review helps us a lot: {link}" + STOP,
            ),
        ),
    ),
    JourneySpec(
        "reactivation",
        "Reactivation",
        tuple(
            StepSpec(
                E.SINCE_VISIT,
                days * DAY,
                A.TEXT,
                REACTIVATION_TEXT,
                C.RETURNED,
                ConsentClass.MARKETING,
                call_without_consent=True,
            )
            for days in (30, 60, 90)
        ),
    ),
)
