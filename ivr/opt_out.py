"""Opt-out in plain words (FCC 24-18: revocation "by any reasonable means"): a small, clear
rule set over a normalized message, deciding one of three things.

- ``OPT_OUT``: the whole message is an opt-out request, give or take politeness: "STOP",
  "please stop", "STOP ALL", "opt-out", "STOP?", full-width "ＳＴＯＰ", "stop texting me",
  "unsubscribe me", "remove me from your list", "don't text me anymore".
- ``POSSIBLE``: an opt-out signal inside a longer message, or words that may mean "leave me
  alone" ("wrong number", "not interested", "please cancel"): a person decides, and outbound
  contact pauses until they do.
- ``NONE``: an ordinary message ("Can I stop by at 3?", "I need to cancel my appointment").

Common Spanish opt-outs count too ("ALTO", "Basta", "No me escriba más", "darme de baja").

Normalization: Unicode compatibility form (full width to ASCII), case folded, accents off,
apostrophes dropped ("don't" -> "dont"), other punctuation and emoji to spaces, runs of one
letter joined ("S T O P" -> "stop"), a letter repeated three times or more kept once ("stooop").
No library does this well for SMS (keyword matchers look at whole messages only); the phrase
lists below are the rule set, and tests/messaging/test_opt_out_phrases.py its examples.
"""

from __future__ import annotations

import enum
import re
import unicodedata

# The keyword families (CTIA; DESIGN.md): the whole message.
STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
# Spanish opt-outs, as a whole message (many practices' patients write in Spanish; carriers
# honor these too): "ALTO", "Basta", "Parar", "Cancelar", "Baja".
SPANISH_STOP_WORDS = frozenset(
    {"alto", "basta", "para", "parar", "paren", "pare", "detener", "cancelar", "baja"}
)
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})


class Intent(enum.StrEnum):
    OPT_OUT = "opt_out"
    POSSIBLE = "possible"
    NONE = "none"


def normalize(body: str) -> str:
    """The comparable form of a message: "  Don’t TEXT me!!! " -> "dont text me"."""
    text = unicodedata.normalize("NFKC", body or "").casefold()
    # Accents off ("más" -> "mas"), after NFKC so full-width letters are plain letters first.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"['’‘`´]", "", text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    text = re.sub(r"([a-z])\1{2,}", r"\1", text)
    words = text.split()
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        joined.extend(["".join(run)] if len(run) >= 3 else run)
        run = []
        if word:
            joined.append(word)
    return " ".join(joined)


def _alt(*phrases: str) -> str:
    return "(?:" + "|".join(sorted(phrases, key=len, reverse=True)) + ")"


# Texting, calling, contacting: what a patient asks to stop.
_CONTACT = _alt(
    r"text(?:ing|s)?",
    r"txt(?:ing|s)?",
    r"messag(?:e|es|ing)",
    r"msg(?:s|ing)?",
    r"sms",
    r"call(?:ing|s)?",
    r"phon(?:e|ing)",
    r"contact(?:ing)?",
    r"email(?:ing|s)?",
    r"send(?:ing)?(?: me)?(?: (?:texts?|messages?|these|this|those|stuff|things))*",
    r"spam(?:ming)?",
    r"bother(?:ing)?",
    r"harass(?:ing)?",
    r"reach(?:ing)? out(?: to me)?",
    r"hitting me up",
)
_LIST = _alt(
    "list",
    "lists",
    "mailing list",
    "contact list",
    "texting list",
    "text list",
    "sms list",
    "database",
    "system",
    "records",
    "texts",
    "messages",
    "calls",
)
_OWNER = _alt("your", "the", "this", "ur", "my", "all", "any", "these", "that")
_LEAD = _alt(
    "please",
    "pls",
    "plz",
    "pl",
    "kindly",
    "hi",
    "hello",
    "hey",
    "ok",
    "okay",
    "k",
    "sorry",
    "um",
    "uh",
    "yes",
    "no",
    "nope",
    "nah",
    "so",
    "just",
    "seriously",
    "again",
    "i said",
    "i already said",
    "like i said",
    "for the last time",
    "i repeat",
    "can you",
    "could you",
    "would you",
    "will you",
    "can you please",
    "could you please",
    "would you please",
    "por favor",
    "ya",
    "i would like you to",
    "id like you to",
    "i want you to",
    "i need you to",
    "i asked you to",
    "i told you to",
    "you need to",
    "you can",
)
_TAIL = _alt(
    "me",
    "us",
    "please",
    "pls",
    "plz",
    "now",
    "right now",
    "anymore",
    "any more",
    "again",
    "ever",
    "ever again",
    "already",
    "immediately",
    "asap",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "at all",
    "for good",
    "forever",
    "permanently",
    "from now on",
    "k",
    "ok",
    "okay",
    "it",
    "this",
    "that",
    "these",
    "those",
    "them",
    "all",
    "everything",
    "all of it",
    "texts",
    "messages",
    "calls",
    "msgs",
    "text",
    "message",
    "this number",
    "my number",
    "number",
    "to me",
    "to this number",
    "to my number",
    "on this number",
    rf"(?:from|off|of) {_OWNER} {_LIST}",
    r"from (?:you|you guys|you all|yall|your (?:office|practice|company|clinic|spa))",
    r"from this (?:number|practice|office)",
    "not interested",
    "im not interested",
    "i am not interested",
    "no longer interested",
    "wrong number",
    "this is the wrong number",
    "i never signed up",
    "i didnt sign up",
    "i did not sign up",
    "stop",
    rf"(?:and|or|&) {_CONTACT}",
    "leave me alone",
    "goodbye",
    "por favor",
    "gracias",
    "bye",
)
_CORE = _alt(
    r"stop(?: all)?",
    r"stopall",
    r"unsub(?:scribe)?(?: me)?",
    r"opt(?:ing)? ?out",
    r"opt me out",
    r"(?:stop|quit|cease|end) " + _CONTACT,
    r"no (?:more )?" + _CONTACT,
    r"enough " + _CONTACT,
    r"(?:dont|do not|never|stop to) (?:ever )?" + _CONTACT,
    r"(?:remove|delete|take) (?:me|my number|this number|my info)(?: off| out)?",
    r"(?:lose|delete|erase|forget) my (?:number|info|contact)",
    r"leave me alone",
    r"(?:i|we) (?:want|wish|would like|d like|need) to (?:opt out|unsubscribe|be removed|"
    r"stop (?:receiving|getting) (?:these |your |the )?(?:texts|messages|calls))",
    r"(?:i|we) (?:dont|do not|no longer) want (?:any |these |your |more |any more |to "
    r"(?:receive|get) )*(?:texts|messages|calls|this|them)",
    r"(?:i|we) revoke (?:my )?consent",
    r"revoke (?:my )?consent",
    r"i withdraw (?:my )?consent",
    r"cancel (?:my )?(?:texts|messages|subscription|sms|alerts)",
    # Spanish: "no me escriba más", "no más mensajes", "ya no me manden mensajes", "darme de baja"
    r"(?:ya )?no (?:me )?(?:escrib|mand|envi|llam|contact|molest)[a-z]*(?: mas)?"
    r"(?: (?:mensajes|textos|llamadas))?",
    r"no mas (?:mensajes|textos|llamadas)",
    r"(?:quiero )?(?:darme|dar me|me doy) de baja",
    r"(?:alto|basta|parar|paren|cancelar|detener)(?: (?:ya|los mensajes|mensajes))?",
)
_OPT_OUT = re.compile(rf"^(?:{_LEAD} )*{_CORE}(?: {_TAIL})*$")

# A keyword of the weaker kind with only politeness around it: likely about an appointment
# ("please cancel"), possibly an opt-out.
_WEAK = re.compile(
    rf"^(?:{_LEAD} )*(?:cancel|end|quit|revoke)(?: (?:it|this|that|please|pls|now|all))*$"
)
# Anywhere in a longer message: an opt-out signal a person should read.
_SIGNALS = re.compile(
    rf"^(?:{_LEAD} )*stop\b(?! (?:by|in|over|at|past|sign|light)\b)|\b(?:"
    rf"stop(?=$| (?:{_CONTACT}|me|it|this|that|all|please|pls|now|immediately|them|these)\b)"
    r"|stopall|unsub(?:scribe)?|opt ?out|opt me out"
    rf"|(?:remove|take) (?:me|my number)|(?:dont|do not|never) {_CONTACT}"
    rf"|no more {_CONTACT}|leave me alone|lose my number|delete my number"
    r"|wrong (?:number|person)|not interested|no longer interested|not the right person"
    r"|never signed up|didnt sign up|did not sign up|how did you get (?:my|this) number"
    r"|(?:keep|keeps|still) (?:texting|calling|messaging|contacting)"
    r"|told you to stop|asked you to stop|said stop"
    r"|spam(?:ming)?|harass(?:ing|ment)?|block(?:ing)? (?:you|this number|your number)"
    r"|report(?:ing)? you|(?:sue|suing) you|lawyer|attorney|tcpa"
    r"|revoke|withdraw (?:my )?consent"
    r"|no (?:me )?(?:escrib|mand|envi|llam|contact|molest)[a-z]*"
    r")\b"
)


def intent_of(body: str) -> Intent:
    """Whether a patient's text asks to stop being contacted (see the module's docstring)."""
    text = normalize(body)
    if not text:
        return Intent.NONE
    if text in STOP_WORDS or text in SPANISH_STOP_WORDS or _OPT_OUT.match(text):
        return Intent.OPT_OUT
    if _WEAK.match(text) or _SIGNALS.search(text):
        return Intent.POSSIBLE
    return Intent.NONE
