"""Domain vocabulary for PocketSphinx: treatment and product names, and a medspa language model.

Two levers, measured with bench/transcription.py on held-out synthesized calls:

- Terms: product and treatment names the bundled CMU dictionary lacks (Juvederm, Dysport,
  HydraFacial...) are added with hand-written pronunciations to the dictionary and, as unigrams,
  to the general language model. Without them such words cannot be recognized at all; with them
  they sometimes are. This is what :func:`build_vocabulary` gives by default.
- Domain language model: a trigram model trained on the medspa call sentences below plus the
  practice's own phrases, backed off to the 3000 most common words of the general model,
  replacing the general model. Measured on twelve held-out calls at 8 kHz through mu-law it
  gives 47.5% word error against 36.2% for the general model: a few hundred sentences are
  far too little text, and PocketSphinx cannot interpolate the two models. So it is off by
  default and kept to reproduce that measurement (``build_vocabulary(domain_model=True)``).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Treatment and product names the bundled CMU dictionary does not know, in its phone set.
PRONUNCIATIONS: dict[str, str] = {
    "juvederm": "JH UW V AH D ER M",
    "dysport": "D IH S P AO R T",
    "xeomin": "Z IY OW M IH N",
    "jeuveau": "JH UW V OW",
    "daxxify": "D AE K S IH F AY",
    "restylane": "R EH S T AH L EY N",
    "radiesse": "R EY D IY EH S",
    "kybella": "K AY B EH L AH",
    "sculptra": "S K AH L P T R AH",
    "coolsculpting": "K UW L S K AH L P T IH NG",
    "microneedling": "M AY K R OW N IY D L IH NG",
    "hydrafacial": "HH AY D R AH F EY SH AH L",
    "dermaplaning": "D ER M AH P L EY N IH NG",
    "medspa": "M EH D S P AA",
    "lidocaine": "L AY D AH K EY N",
    "ipl": "AY P IY EH L",
    "prp": "P IY AA R P IY",
    "touchup": "T AH CH AH P",
}

# What callers and coordinators say on calls to an aesthetic practice. Written for this module;
# the held-out benchmark calls in tests/speech.py must not be copied here.
MEDSPA_SENTENCES: tuple[str, ...] = (
    "thank you for calling how may I help you today",
    "thanks for calling my name is Jessica how can I help you",
    "hi this is Megan with the front desk",
    "this call may be recorded for quality and training",
    "may I have your first and last name please",
    "can you spell your last name for me",
    "what is the best phone number to reach you",
    "what is your email address",
    "can I get your date of birth to look up your account",
    "have you visited us before or is this your first visit",
    "are you a new patient or an existing patient",
    "how did you hear about us",
    "I found you on instagram",
    "a friend of mine recommended you",
    "I saw your website and had a few questions",
    "I would like to schedule a consultation",
    "I want to make an appointment",
    "I need to book a treatment",
    "can I book an appointment for botox",
    "I am interested in lip filler",
    "I was thinking about getting fillers in my cheeks",
    "do you offer microneedling",
    "do you do laser treatments",
    "I want to get rid of my fine lines and wrinkles",
    "I am looking for something for my forehead lines",
    "what can I do about the lines around my eyes",
    "do you have anything for acne scars",
    "I have sun damage on my face",
    "I would like a chemical peel",
    "how much is a hydrafacial",
    "what is the price for a syringe of filler",
    "how much does botox cost per unit",
    "we charge twelve dollars per unit for botox",
    "a syringe of juvederm is six hundred fifty dollars",
    "the consultation is complimentary",
    "the consultation is free and takes about twenty minutes",
    "we have a promotion this month for new patients",
    "we offer a membership with monthly savings",
    "we accept all major credit cards and financing",
    "we require a deposit to hold the appointment",
    "there is a cancellation fee if you cancel within twenty four hours",
    "what day works best for you",
    "what time would you like to come in",
    "do you prefer mornings or afternoons",
    "we have an opening on Monday at ten in the morning",
    "I have availability on Tuesday at two thirty",
    "how about Wednesday at eleven",
    "we can see you Thursday at three o'clock",
    "is Friday afternoon okay for you",
    "we are open on Saturday from nine to two",
    "the earliest I have is next week",
    "let me check the schedule for you",
    "please hold for just a moment",
    "thank you for holding",
    "I can put you on the waitlist",
    "you are booked for Tuesday at one",
    "your appointment is confirmed",
    "you will receive a text message with the details",
    "we will send you a reminder the day before",
    "please arrive ten minutes early to fill out paperwork",
    "please fill out the forms we send you",
    "I need to reschedule my appointment",
    "can I move my appointment to another day",
    "I need to cancel my appointment",
    "I am running late",
    "I will be there in fifteen minutes",
    "is there any downtime after the treatment",
    "you might have some swelling or bruising for a few days",
    "how long does the botox last",
    "results usually last three to four months",
    "filler usually lasts six months to a year",
    "when will I see results",
    "you will see the full results in about two weeks",
    "does it hurt",
    "we use a numbing cream to keep you comfortable",
    "who will be doing my treatment",
    "our nurse injector has many years of experience",
    "our nurse practitioner will do your consultation",
    "the provider will go over everything with you",
    "I can not give medical advice over the phone",
    "that is a great question for the provider at your consultation",
    "do you have any allergies or medical conditions",
    "are you pregnant or breastfeeding",
    "are you taking any blood thinners",
    "please avoid alcohol and ibuprofen before your appointment",
    "I had a treatment last week and I have a question",
    "I have some bruising from my filler",
    "I would like to come in for a touchup",
    "your two week follow up is included",
    "do you have a package for laser hair removal",
    "we recommend a series of treatments",
    "most clients need four to six sessions",
    "the sessions are four to six weeks apart",
    "do you offer coolsculpting",
    "we have kybella for the area under the chin",
    "we carry dysport xeomin and botox",
    "we use restylane and juvederm fillers",
    "sculptra helps build collagen over time",
    "dermaplaning removes dead skin and peach fuzz",
    "ipl helps with redness and brown spots",
    "prp uses your own blood to help the skin heal",
    "we sell medical grade skin care products",
    "do you have a skin care consultation",
    "can I bring a friend with me",
    "where is your office located",
    "we are located on main street next to the bank",
    "there is free parking behind the building",
    "what are your hours",
    "we are open monday through friday from nine to six",
    "can I pay with my health savings account",
    "we do not take insurance for cosmetic treatments",
    "is there anything else I can help you with",
    "no that is everything thank you",
    "thank you so much for your help",
    "you are welcome have a great day",
    "we look forward to seeing you",
    "have a wonderful rest of your day",
    "bye bye",
    "okay sounds good",
    "yes that works for me",
    "no that does not work for me",
    "let me check my calendar",
    "can you call me back later",
    "I missed a call from this number",
    "I am returning your call",
    "I left a voicemail earlier",
    "we received your request online",
    "I am calling about the form you filled out on our website",
    "is now a good time to talk",
)

# Number words, so that times, prices and dates in phrases and templates read as spoken.
_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """Spell a number below ten thousand as it is usually spoken ("two hundred fifty")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    if n < 10000:
        thousands, rest = divmod(n, 1000)
        return _ONES[thousands] + " thousand" + ("" if rest == 0 else " " + number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def normalize_sentence(text: str) -> str:
    """Lower-case, spell out numbers, drop template fields and punctuation (keep apostrophes)."""
    text = re.sub(r"\{\{?[^}]*\}?\}", " ", text.lower())  # {practice_name}, {{date}}
    text = text.replace("%", " percent ").replace("$", " ").replace("&", " and ")
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


@dataclass(frozen=True)
class Vocabulary:
    """Terms to add and, optionally, sentences for a domain model (hashable, to key engines)."""

    terms: tuple[tuple[str, str], ...] = ()
    sentences: tuple[str, ...] = ()
    general_words: int = 3000

    def apply_to(self, decoder: Any) -> None:
        """Add the terms the dictionary lacks; with sentences, switch to the domain model."""
        new = [(word, phones) for word, phones in self.terms if decoder.lookup_word(word) is None]
        for index, (word, phones) in enumerate(new):
            decoder.add_word(word, phones, index == len(new) - 1)  # rebuild the search once
        if self.sentences:
            self._activate_domain_model(decoder)
        logger.info(
            "vocabulary applied: %d new terms, %d domain sentences", len(new), len(self.sentences)
        )

    def _activate_domain_model(self, decoder: Any) -> None:
        import pocketsphinx

        backoff = most_common_words(decoder, self.general_words)
        with tempfile.TemporaryDirectory() as tmp:
            arpa = Path(tmp) / "domain.arpa"
            write_arpa(arpa, self.sentences, backoff)
            model = pocketsphinx.NGramModel(decoder.config, decoder.logmath, str(arpa))
        decoder.add_lm("domain", model)
        decoder.activate_search("domain")


def write_arpa(path: Path, sentences: Iterable[str], extra_words: Iterable[str] = ()) -> None:
    """Write a fixed-discount backoff trigram model of the sentences (pocketsphinx.lm) as ARPA.

    extra_words join the unigrams with a count of one, so words outside the sentences can
    still be recognized.
    """
    from pocketsphinx.lm import ArpaBoLM

    text = "\n".join(sentences)
    if not text.strip():
        raise ValueError("a domain language model needs at least one sentence")
    model = ArpaBoLM(text=text, add_start=True)
    for word in extra_words:
        model.grams_1.setdefault(word, 1)
    model.compute()
    model.write_file(str(path))


_ranked_words: dict[str, list[str]] = {}


def most_common_words(decoder: Any, count: int) -> list[str]:
    """Rank the dictionary's words by their unigram probability in the general model."""
    import pocketsphinx

    lm_path = str(decoder.config["lm"])
    if lm_path not in _ranked_words:
        general = pocketsphinx.NGramModel(decoder.config, decoder.logmath, lm_path)
        with open(decoder.config["dict"], encoding="utf-8") as lexicon:
            words = [w for w in (line.split(" ", 1)[0] for line in lexicon) if w and "(" not in w]
        _ranked_words[lm_path] = sorted(words, key=lambda w: general.prob([w]), reverse=True)
    return _ranked_words[lm_path][:count]


def build_vocabulary(
    phrases: Iterable[str] = (),
    terms: Mapping[str, str] | None = None,
    domain_model: bool = False,
) -> Vocabulary:
    """Build a vocabulary: the medspa terms plus extra terms ({word: "ARPABET PHONES"}).

    With domain_model, the practice phrases (scorecard phrases, SMS templates) and this
    module's medspa sentences also become a domain language model (measured worse; see above).
    """
    all_terms = {**PRONUNCIATIONS, **{k.lower(): v.upper() for k, v in (terms or {}).items()}}
    sentences: tuple[str, ...] = ()
    if domain_model:
        normalized = [normalize_sentence(s) for s in (*phrases, *MEDSPA_SENTENCES)]
        sentences = tuple(dict.fromkeys(s for s in normalized if s))
    return Vocabulary(tuple(sorted(all_terms.items())), sentences)


# The medspa terms alone: what the app's PocketSphinx engine loads (see engines.load_engine).
DEFAULT_VOCABULARY = build_vocabulary()
