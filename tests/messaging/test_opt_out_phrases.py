"""The opt-out phrase matcher (ivr.opt_out): real phrasings each way, and what it cannot
decide goes to a person. Pure: no database."""

from __future__ import annotations

import pytest

from ivr.opt_out import Intent, intent_of, normalize

# Each of these is an opt-out (FCC 24-18: any reasonable means), confirmed once, at once.
OPT_OUT = [
    # issue 11
    "please stop",
    "STOP ALL",
    "opt-out",
    "STOP?",
    "ＳＴＯＰ",
    "stop texting me",
    "unsubscribe me",
    "remove me from your list",
    "don't text me anymore",
    # keywords in every dress
    "STOP",
    "Stop.",
    "stop!!!",
    "  stop  ",
    "S T O P",
    "Stooop",
    "STOP STOP STOP",
    "Stop 🛑",
    "stop all",
    "Stopall",
    "Unsubscribe",
    "unsubscribe please",
    "UNSUB",
    "opt out",
    "OptOut",
    "Opt out please",
    "opt me out",
    "OPT-OUT NOW",
    "cancel",
    "END",
    "quit",
    "revoke",
    # polite and impatient
    "Please stop.",
    "Stop please",
    "pls stop",
    "Stop it",
    "stop this",
    "Stop now",
    "Stop, thanks",
    "Stop thank you",
    "Hi, please stop",
    "I said stop",
    "I already said STOP",
    "Seriously stop",
    "For the last time, stop",
    "ok stop",
    "no stop",
    # texting, calling, contacting
    "Stop texting me please",
    "Stop texting me!",
    "stop messaging me",
    "Stop calling me",
    "Stop calling and texting me",
    "stop contacting me",
    "Please stop sending me these messages",
    "stop sending me texts",
    "Stop spamming me",
    "stop bothering me",
    "Quit texting me",
    "Stop texting this number",
    "Please stop texting my number",
    "Can you stop texting me",
    "Could you please stop calling me",
    "I need you to stop texting me",
    "No more texts",
    "No more texts please",
    "no more messages",
    "No more calls",
    "Enough texts",
    "Don't text me",
    "Dont text me anymore",
    "Don’t contact me again",
    "Do not call me",
    "Do not text this number",
    "Please do not contact me",
    "Never text me again",
    # lists and numbers
    "Remove me",
    "Please remove me",
    "Remove me from this list",
    "remove me from your mailing list",
    "Please remove my number",
    "Take me off your list",
    "take me off the list please",
    "Delete my number",
    "Lose my number",
    "Unsubscribe me from these texts",
    "unsubscribe me from your list",
    # wanting out
    "I want to opt out",
    "I would like to unsubscribe",
    "I want to stop receiving these texts",
    "I don't want these texts",
    "I do not want any more messages",
    "I no longer want texts",
    "I don't want to receive texts",
    "Leave me alone",
    "Stop. Leave me alone",
    "stop, wrong number",
    "Stop im not interested",
    "stop I never signed up",
    "I revoke my consent",
    "revoke consent",
    "Cancel my texts",
    "cancel subscription",
    # Spanish
    "ALTO",
    "Basta",
    "Parar",
    "Cancelar",
    "No me escriba más",
    "no más mensajes por favor",
    "Ya no me manden mensajes",
    "Quiero darme de baja",
]

# Ordinary messages: never an opt-out, never paused.
NOT_OPT_OUT = [
    "Can I stop by at 3?",
    "I'll stop by tomorrow to pay",
    "Is there a bus stop near you?",
    "Should I stop using retinol before my appointment?",
    "I need to cancel my appointment",
    "Can I cancel my appointment on Friday?",
    "I have to cancel and reschedule",
    "Please cancel my consultation, I'll book another time",
    "What time do you end today?",
    "end of story",
    "At the end of the month works",
    "I quit my job so my schedule is open",
    "Yes",
    "yes please",
    "YES",
    "Start",
    "Help",
    "Info",
    "Hi! Interested in a consult",
    "Do you have openings Saturday?",
    "What are your prices?",
    "Thanks!",
    "Thank you so much",
    "See you then",
    "C",
    "R",
    "Confirm",
    "Confirmed, see you at 2",
    "Can I reschedule?",
    "Running late, be there in 10",
    "Who is this?",
    "Is this Glow Aesthetics?",
    "What's your address?",
    "Do you take walk-ins?",
    "Is parking free?",
    "Can my friend come too?",
    "Call me back please",
    "Please call me",
    "Text me the address",
    "You can text me at this number",
    "Please text me the details",
    "Can you send me the link?",
    "Send me the form please",
    "I got your message, thanks",
    "Great, thanks for the reminder!",
    "Love the reminders",
    "Ok",
    "ok thanks",
    "Sounds good",
    "Perfect",
    "Will do",
    "Can we do 4 instead of 3?",
    "Nonstop week but I can make it",
    "I can't stop smiling after my visit!",
    "My phone died, sorry",
    "What is the cancellation policy?",
    "Is there a fee if I cancel?",
    "Hello",
    "hi",
    "How much is a consultation?",
    "Do you have anything next week?",
    "The link doesn't work",
    "Please remind me the day before",
    "Stop sign at the corner, turn left?",
    "Hola, ¿tienen citas el sábado?",
    "Gracias",
    "¿Para el viernes a las 3?",
    "Sí, confirmo",
    "No puedo ir mañana, ¿podemos cambiar la cita?",
]

# Words that may mean "stop contacting me": a coordinator decides; contact pauses meanwhile.
POSSIBLE = [
    "wrong number",
    "Wrong number!",
    "You have the wrong number",
    "Not interested",
    "not interested thanks",
    "I'm no longer interested",
    "please cancel",
    "cancel it",
    "Cancel please",
    "end it",
    "stop texting me about it?",
    "Can you stop texting me so early in the morning?",
    "Why won't you stop calling me",
    "I told you to stop and you keep texting",
    "How do I unsubscribe from the promotions but keep reminders?",
    "I want to opt out of the newsletter",
    "Who is this? How did you get my number?",
    "This is spam",
    "I never signed up for this",
    "I'll report you",
    "Keep texting me and I'll contact my lawyer",
    "Please don't call, text only",
    "don't call me at work",
    "I'm going to block this number",
    "Take me off the reminder list but keep my appointment",
    "Stop - Maria",
    "STOP Glow",
    "Stop sending reminders for the old appointment",
    "No me llamen, solo mensajes",
]


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out_phrasings(text: str) -> None:
    assert intent_of(text) is Intent.OPT_OUT, normalize(text)


@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_ordinary_messages(text: str) -> None:
    assert intent_of(text) is Intent.NONE, normalize(text)


@pytest.mark.parametrize("text", POSSIBLE)
def test_undecidable_messages_go_to_a_person(text: str) -> None:
    assert intent_of(text) is Intent.POSSIBLE, normalize(text)


def test_enough_examples_each_way() -> None:
    assert len(OPT_OUT) >= 50 and len(NOT_OPT_OUT) >= 50 and len(POSSIBLE) >= 20


def test_normalize() -> None:
    assert normalize("ＳＴＯＰ") == "stop"
    assert normalize("  Don’t TEXT me!!! ") == "dont text me"
    assert normalize("S T O P please") == "stop please"
    assert normalize("opt-out") == "opt out"
    assert normalize("Stoooop 🛑") == "stop"
    assert normalize("I am a b") == "i am a b"  # two single letters stay apart
    assert normalize("") == ""
