"""PHI matching: folded spellings of every built-in term are caught, ordinary texts pass,
the practice's own terms extend the list and a refusal names what it found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from contact_center.messaging import phi, services
from contact_center.messaging.models import MessageKind
from tests.factories import make_practice

PATIENT = "+13105550142"

# Issue 11: inbox replies that passed the check, each with the term it must name.
LEAKED = {
    "Your Juvéderm touch-up is on Friday": "juvéderm",
    "See you for micro-needling at 3": "micro-needling",
    "Cool Sculpting slots open tomorrow": "cool sculpting",
    "Dr. Lee can see you about the face lift": "face lift",
    "Your Hydra Facial is booked!": "hydra facial",
    "Morpheus 8 follow-up on Monday": "morpheus 8",
    "Your tretinoin is ready for pickup": "tretinoin",
    "Bring your Latisse to the visit": "latisse",
    "Zepbound refill questions? Call us": "zepbound",
    "About your Saxenda: call us": "saxenda",
    "Fraxel check-in tomorrow": "fraxel",
    "Ultherapy day! See you at 10": "ultherapy",
    "Thermage consult moved to 4 PM": "thermage",
    "Dermaplaning is at noon": "dermaplaning",
    "Microblading touch up next week": "microblading",
    "Your sclerotherapy is confirmed": "sclerotherapy",
    "Brow lift pre-visit call at 9": "brow lift",
    "Questions about the nose job? Text us": "nose job",
    "Labiaplasty follow-up on May 3": "labiaplasty",
}

# What coordinators and templates really send: none of it names a treatment.
ORDINARY = [
    "Hi Maya, this is Glow Aesthetics confirming your appointment on May 3 at 2 PM. "
    "Reply C to confirm or R to reschedule.",
    "Reminder: you have an appointment tomorrow at 10:30 AM. Reply STOP to opt out.",
    "Good morning! Your visit with us is today at 3 PM. Parking is free behind the building.",
    "Please arrive 10 minutes early to fill out a few forms.",
    "We have an opening at 4:15 this afternoon if you'd like to come in sooner.",
    "Thanks for reaching out! A patient coordinator will call you back shortly.",
    "Sorry we missed your call! Reply here or call us back at (415) 555-0100.",
    "Your consultation is confirmed for Tuesday, June 2 at 11 AM.",
    "We hope our new Saturday hours are appealing! Book online any time.",
    "Our office is closed on Monday for the holiday. Happy Memorial Day!",
    "Happy birthday from all of us! Stop by for a little gift this month.",
    "Your gift card balance is $50. Thanks for being with us.",
    "Can you confirm the best number to reach you?",
    "We received your message and will get back to you within the hour.",
    "Running 10 minutes behind today, so sorry! See you soon.",
    "Need a lift from the train station? Our shuttle runs every 20 minutes.",
    "Please bring a photo ID and your insurance card, if any.",
    "Your card on file will not be charged until your visit.",
    "Thanks for visiting! We'd love a review: https://g.page/glow/review",
    "It was great to see you today. Let us know if you have any questions.",
    "Reminder to bring your lipstick shade card for the color match event.",
    "The front desk can help you reschedule: call 415-555-0100.",
    "We will text you the address and directions the day before.",
    "Hi, this is Ava from the front desk returning your text.",
    "Your appointment has been moved to 2:30 PM. Reply C to confirm.",
    "Our stopwatch says the wait is about 5 minutes. Thanks for your patience!",
    "Feel free to reply with any questions about pricing or scheduling.",
    "We treat every question as important. Text us anytime during business hours.",
    "Want to join our mailing list? Reply YES.",
    "Bring a friend next time: refer a friend and you both get $25 off.",
    "We look forward to meeting you. Please bring a jacket, our lobby is cold!",
    "Hope you had a relaxing weekend. Just checking in about next week.",
    "Please complete your intake form before your visit: https://glow.example/f/81",
    "Results of our patient survey are in, thank you for taking part!",
    "Good news: an earlier time opened up on Thursday at 9 AM.",
    "Your appointment is in 2 days. Reply R to reschedule.",
]


def spellings(term: str) -> list[str]:
    """The ways a person writes a term: as listed, in capitals, title case, split or joined
    with hyphens and spaces, in the plural."""
    base = term.rstrip("*")
    if term.endswith("*"):  # a stem: pregnant, pregnancy
        return [base + "t", base.upper() + "CY", base.title() + "t"]
    words = base.replace("-", " ").split()
    return [
        base,
        base.upper(),
        base.title(),
        "-".join(words),
        " ".join(words),
        "".join(words) if len(words) > 1 else base,
        base + "s",
    ]


def test_every_leak_from_the_issue_is_refused_by_name() -> None:
    for text, term in LEAKED.items():
        assert phi.phi_found(text) == [term], text


def test_the_built_in_list_covers_the_field() -> None:
    assert len(set(phi.BUILT_IN_TERMS)) >= 150
    for needed in (
        "tretinoin",
        "latisse",
        "zepbound",
        "saxenda",
        "fraxel",
        "ultherapy",
        "thermage",
        "dermaplaning",
        "microblading",
        "sclerotherapy",
        "brow lift",
        "nose job",
        "labiaplasty",
    ):
        assert needed in phi.BUILT_IN_TERMS, needed


@pytest.mark.parametrize("term", phi.BUILT_IN_TERMS)
def test_every_built_in_term_is_caught_in_every_spelling(term: str) -> None:
    for spelling in spellings(term):
        text = f"Hi Maya, about your {spelling} on Friday at 2 PM."
        assert phi.phi_found(text), f"{term!r} missed as {spelling!r}"


def test_accents_width_and_spacing_fold() -> None:
    assert phi.phi_found("ＢＯＴＯＸ") == ["ｂｏｔｏｘ"]
    assert phi.phi_found("Restylané Kyssé") == ["kyssé", "restylané"]
    assert phi.phi_found("Clear + Brilliant") == ["clear + brilliant"]
    assert phi.phi_found("your Botox's touch-up") == ["botox's"]
    assert phi.phi_found("GLP 1 questions") == ["glp 1"]
    assert phi.phi_found("you are pregnant?") == ["pregnant"]


def test_whole_words_only() -> None:
    for text in (
        "appeal",
        "lipstick and stopwatch",
        "a fillet of fish",
        "the halloween party",
        "please fill out the form",
        "we treat you well",
        "dr. sutton",
        "your face. Lift the box",  # words across a sentence end are not joined
    ):
        assert phi.phi_found(text) == [], text


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_texts_pass(text: str) -> None:
    assert phi.phi_found(text) == []


def test_the_practice_extends_the_list_and_the_refusal_names_the_term(session: Session) -> None:
    practice = make_practice(session, name="Glow Aesthetics")
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    phi.add_term(session, practice.id, "Glow Signature Facial")
    phi.add_term(session, practice.id, "Velvet Skin")
    with pytest.raises(phi.PhiInText) as refused:
        services.send_sms(
            session,
            practice,
            PATIENT,
            "Your velvet-skin session is at 2 PM",
            MessageKind.COORDINATOR,
            now,
            direct_reply=True,
        )
    assert refused.value.terms == ["velvet-skin"]
    assert "velvet-skin" in str(refused.value)
    with pytest.raises(phi.PhiInText) as refused:
        services.send_sms(
            session,
            practice,
            PATIENT,
            "See you for Cool Sculpting and your Juvéderm!",
            MessageKind.COORDINATOR,
            now,
            direct_reply=True,
        )
    assert refused.value.terms == ["cool sculpting", "juvéderm"]
    # Another practice's list does not apply.
    other = make_practice(session, name="Other Spa")
    message = services.send_sms(
        session,
        other,
        PATIENT,
        "Your velvet skin day!",
        MessageKind.COORDINATOR,
        now,
        direct_reply=True,
    )
    assert message.body == "Your velvet skin day!"
