"""STOP/START/HELP keyword families over the signed SMS webhook, and the first-message flow."""

from __future__ import annotations

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.messaging.models import (
    Conversation,
    Message,
    MessageDirection,
    MessageKind,
    MessageStatus,
)
from contact_center.models import Practice
from contact_center.simulator import TwilioSimulator, new_sid
from ivr.models import ConsentKind, ConsentRecord
from ivr.sms import Keyword, keyword_of
from routing.models import CallbackReason, CallbackTask
from tests.conftest import at_local
from tests.factories import make_practice
from tests.outbound import text_in

LA = "America/Los_Angeles"
STOP_VARIANTS = [
    "STOP",
    "stop",
    "  Stop  ",
    "STOPALL",
    "Unsubscribe",
    "CANCEL",
    "end",
    "QUIT",
    "revoke",
    "OptOut",
    "\tstop\n",
    "STOP.",
]
START_VARIANTS = ["START", "unstop", "Yes", " YES "]
HELP_VARIANTS = ["HELP", "help", " Info "]


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone=LA)


def conversation(session: Session, practice: Practice, phone: str) -> Conversation:
    return session.scalars(
        select(Conversation).where(
            Conversation.practice_id == practice.id, Conversation.phone == phone
        )
    ).one()


def sms_consents(session: Session, phone: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.phone == phone, ConsentRecord.kind == ConsentKind.SMS)
            .order_by(ConsentRecord.id)
        )
    )


def test_keyword_families_are_whole_message_any_case() -> None:
    for word in STOP_VARIANTS:
        assert keyword_of(word) is Keyword.STOP, word
    for word in START_VARIANTS:
        assert keyword_of(word) is Keyword.START, word
    for word in HELP_VARIANTS:
        assert keyword_of(word) is Keyword.HELP, word
    # Normalized: width, case, punctuation and spacing (issue 11: "ＳＴＯＰ", "STOP?").
    for text in ("ＳＴＯＰ", "STOP?", "S T O P", "Stop!!!", "stop all", "opt-out", "OPT OUT"):
        assert keyword_of(text) is Keyword.STOP, text
    # Phrases are not keywords: ivr.opt_out decides them (tests/messaging/test_opt_out_*.py).
    for text in (
        "stop texting me about it?",
        "please stop",
        "helpful",
        "yes please",
        "",
        "end of story",
    ):
        assert keyword_of(text) is None, text


@pytest.mark.parametrize("word", STOP_VARIANTS)
def test_every_stop_variant_opts_out_at_once_with_one_confirmation(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis, word: str
) -> None:
    phone = "+13105550142"
    status, reply = text_in(twilio, phone, practice.phone_number, word)
    assert status == 200
    assert reply is not None and "unsubscribed from Glow Aesthetics" in reply
    assert conversation(session, practice, phone).opted_out_at is not None
    consent = sms_consents(session, phone)
    assert [(c.granted, c.method) for c in consent] == [(False, "keyword")]
    assert consent[0].speech == word[:200] and consent[0].wording == reply
    # Again: already out, no second confirmation, no second ledger entry.
    assert text_in(twilio, phone, practice.phone_number, "STOP") == (200, None)
    assert len(sms_consents(session, phone)) == 1


@pytest.mark.parametrize("word", START_VARIANTS)
def test_every_start_variant_opts_back_in(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis, word: str
) -> None:
    phone = "+13105550143"
    text_in(twilio, phone, practice.phone_number, "STOP")
    status, reply = text_in(twilio, phone, practice.phone_number, word)
    assert status == 200 and reply is not None and "resubscribed" in reply
    assert conversation(session, practice, phone).opted_out_at is None
    assert [c.granted for c in sms_consents(session, phone)] == [False, True]


@pytest.mark.parametrize("word", HELP_VARIANTS)
def test_every_help_variant_names_the_practice_and_its_contact(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis, word: str
) -> None:
    phone = "+13105550144"
    status, reply = text_in(twilio, phone, practice.phone_number, word)
    assert status == 200 and reply is not None
    assert "Glow Aesthetics" in reply and practice.phone_number in reply and "STOP" in reply
    assert [(c.granted, c.method) for c in sms_consents(session, phone)] == [(True, "keyword")]


def test_an_opted_out_number_gets_nothing_more_not_even_help(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    phone = "+13105550145"
    text_in(twilio, phone, practice.phone_number, "stop")
    assert text_in(twilio, phone, practice.phone_number, "HELP") == (200, None)
    assert text_in(twilio, phone, practice.phone_number, "Can I book Friday?") == (200, None)
    conv = conversation(session, practice, phone)
    assert conv.needs_reply is True  # the coordinators still see it
    outbound = session.scalars(
        select(Message).where(
            Message.conversation_id == conv.id, Message.direction == MessageDirection.OUTBOUND
        )
    ).all()
    assert [m.kind for m in outbound] == [MessageKind.KEYWORD_REPLY]  # the STOP confirmation


def test_yes_in_a_normal_conversation_is_just_a_message(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    phone = "+13105550146"
    text_in(twilio, phone, practice.phone_number, "Hi, do you have openings?")
    assert text_in(twilio, phone, practice.phone_number, "yes") == (200, None)
    assert sms_consents(session, phone) == []


def test_first_text_gets_the_acknowledgment_and_a_callback_later_ones_go_to_the_inbox(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    phone = "+13105550147"
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))  # Tuesday 11 AM, open
    sid = new_sid("SM")
    status, reply = text_in(
        twilio, phone, practice.phone_number, "Hi! Interested in a consult", sid
    )
    assert status == 200 and reply is not None
    assert reply.startswith("Thanks for reaching out to Glow Aesthetics! A patient coordinator")
    task = session.scalars(select(CallbackTask).where(CallbackTask.phone == phone)).one()
    assert task.reason is CallbackReason.SMS
    # Twilio retries the same MessageSid: stored once, answered once.
    assert text_in(twilio, phone, practice.phone_number, "Hi! Interested in a consult", sid) == (
        200,
        None,
    )
    assert text_in(twilio, phone, practice.phone_number, "Also, what are your prices?") == (
        200,
        None,
    )
    conv = conversation(session, practice, phone)
    assert conv.needs_reply is True
    inbound = session.scalars(
        select(Message).where(
            Message.conversation_id == conv.id, Message.direction == MessageDirection.INBOUND
        )
    ).all()
    assert len(inbound) == 2 and all(m.status is MessageStatus.RECEIVED for m in inbound)
    assert session.scalars(select(CallbackTask).where(CallbackTask.phone == phone)).all() == [task]


def test_after_hours_acknowledgment_gives_the_callback_window(
    session: Session, twilio: TwilioSimulator, redis: Redis
) -> None:
    practice = make_practice(
        session, name="Night Clinic", timezone=LA, hours="mon-fri 09:00-18:00, sat 10:00-14:00"
    )
    clock.pin(at_local(LA, 2026, 11, 21, 23, 0))  # Saturday 11 PM
    _, reply = text_in(twilio, "+13105550148", practice.phone_number, "hello?")
    assert reply is not None and "We're closed right now" in reply
    assert "Monday after 9:00 AM" in reply


def test_unknown_number_and_forged_signature(
    session: Session, twilio: TwilioSimulator, practice: Practice, redis: Redis
) -> None:
    assert text_in(twilio, "+13105550149", "+19995550000", "STOP") == (200, None)
    form = {
        "MessageSid": new_sid("SM"),
        "From": "+13105550149",
        "To": practice.phone_number,
        "Body": "STOP",
    }
    assert twilio.post("/twilio/sms/incoming", form, signature="forged")[0] == 403
    assert session.scalars(select(Conversation)).all() == []
