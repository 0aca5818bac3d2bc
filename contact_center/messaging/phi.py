"""PHI-safe texts: a text never names a treatment, procedure, drug or clinical detail.

The built-in list (``BUILT_IN_TERMS``, 150+ terms: injectables and fillers, lasers and energy
devices, body contouring, skin treatments, surgery, GLP-1 and skin prescriptions, brand and
generic names, clinical words) is extended per practice (``PhiTerm``, ``add_term``).

Matching folds what a writer may vary, on the term and the text alike: accents ("Juvéderm"),
case and width, and the spaces or hyphens inside a name ("micro-needling", "Cool Sculpting",
"face lift", "Hydra Facial", "Morpheus 8" all match their one-word terms), plus simple plurals
("fillers", "peels", "surgeries"). Only whole words match: "peel" is not found in "appeal",
nor "lipo" in "lipstick". A term ending in ``*`` is a stem ("pregnan*": pregnant, pregnancy).
A refusal names the words found, as the text spelled them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from contact_center.messaging.models import PhiTerm

BUILT_IN_TERMS: tuple[str, ...] = (
    # neurotoxins (brand and generic)
    "botox",
    "baby botox",
    "dysport",
    "xeomin",
    "jeuveau",
    "daxxify",
    "letybo",
    "botulinum",
    "neurotoxin",
    "neuromodulator",
    "lip flip",
    # fillers and biostimulators
    "filler",
    "dermal filler",
    "juvederm",
    "voluma",
    "volbella",
    "vollure",
    "volux",
    "skinvive",
    "restylane",
    "kysse",
    "defyne",
    "refyne",
    "radiesse",
    "sculptra",
    "rha",
    "belotero",
    "revanesse",
    "bellafill",
    "hyaluronic acid",
    "hyaluronidase",
    "hylenex",
    "lip injection",
    "kybella",
    "deoxycholic acid",
    "prp",
    "prf",
    "vampire facial",
    "exosome",
    "pdo thread",
    "thread lift",
    # lasers and energy devices
    "laser",
    "ipl",
    "photofacial",
    "bbl",
    "fraxel",
    "clear and brilliant",
    "clear brilliant",
    "halo",
    "moxi",
    "erbium",
    "picosure",
    "picoway",
    "resurfacing",
    "ultherapy",
    "thermage",
    "sofwave",
    "morpheus8",
    "vivace",
    "potenza",
    "secret rf",
    "virtue rf",
    "microneedling",
    "radiofrequency",
    "tempsure",
    "exilis",
    "emface",
    "hair removal",
    "tattoo removal",
    "electrolysis",
    "sclerotherapy",
    "spider vein",
    "varicose vein",
    # body contouring
    "coolsculpting",
    "cryolipolysis",
    "emsculpt",
    "emsella",
    "sculpsure",
    "truesculpt",
    "velashape",
    "bodytite",
    "facetite",
    "accutite",
    "renuvion",
    "body contouring",
    "fat reduction",
    "cellulite",
    # skin treatments
    "chemical peel",
    "vi peel",
    "glycolic peel",
    "tca peel",
    "hydrafacial",
    "diamondglow",
    "facial",
    "dermaplaning",
    "microdermabrasion",
    "dermabrasion",
    "microblading",
    "microshading",
    "permanent makeup",
    # surgery
    "surgery",
    "surgical",
    "liposuction",
    "lipo",
    "smartlipo",
    "vaser",
    "rhinoplasty",
    "nose job",
    "septoplasty",
    "blepharoplasty",
    "eyelid lift",
    "facelift",
    "mini facelift",
    "neck lift",
    "brow lift",
    "forehead lift",
    "otoplasty",
    "genioplasty",
    "chin implant",
    "implant",
    "breast augmentation",
    "breast lift",
    "mastopexy",
    "breast reduction",
    "boob job",
    "tummy tuck",
    "abdominoplasty",
    "mommy makeover",
    "brazilian butt lift",
    "butt lift",
    "arm lift",
    "brachioplasty",
    "thigh lift",
    "labiaplasty",
    "vaginoplasty",
    "vaginal rejuvenation",
    "gynecomastia",
    "fat transfer",
    "fat grafting",
    "explant",
    "capsulectomy",
    "post-op",
    "pre-op",
    "anesthesia",
    "sedation",
    "stitches",
    "suture",
    "incision",
    "scar revision",
    # weight loss and GLP-1 drugs
    "weight loss",
    "glp-1",
    "semaglutide",
    "ozempic",
    "wegovy",
    "rybelsus",
    "tirzepatide",
    "mounjaro",
    "zepbound",
    "liraglutide",
    "saxenda",
    "victoza",
    "phentermine",
    "contrave",
    "qsymia",
    # skin and hair prescriptions
    "tretinoin",
    "retin-a",
    "retinoid",
    "isotretinoin",
    "accutane",
    "hydroquinone",
    "tri-luma",
    "spironolactone",
    "latisse",
    "bimatoprost",
    "finasteride",
    "minoxidil",
    "doxycycline",
    "clindamycin",
    "adapalene",
    "tazarotene",
    "upneeq",
    # hormones, IV and other medical care
    "hormone",
    "hrt",
    "bhrt",
    "testosterone",
    "trt",
    "estrogen",
    "progesterone",
    "menopause",
    "iv therapy",
    "iv drip",
    "iv hydration",
    "hair restoration",
    "hair loss",
    "alopecia",
    "acne",
    "rosacea",
    "melasma",
    "psoriasis",
    "eczema",
    "hyperhidrosis",
    # clinical words
    "prescription",
    "medication",
    "diagnosis",
    "biopsy",
    "lab result",
    "test result",
    "bloodwork",
    "treatment",
    "procedure",
    "injection",
    "injectable",
    "side effect",
    "allergy",
    "allergic",
    "pregnan*",
)

# The most written words one term may span ("clear and brilliant" as "Clear + Brilliant").
_MAX_SPAN = 5
_WORD = re.compile(r"[a-z0-9]+")
# Words join across spaces, hyphens, "+", "&" and apostrophes ("Botox's"), never across the
# end of a sentence or a list separator ("face. Lift", "Dysport/Botox" are two words).
_JOINER = re.compile(r"^[\s\-_+&'’]*$")


def fold(text: str) -> str:
    """Lower case, width-folded, accents removed: the form terms and texts are compared in."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def squash(term: str) -> str:
    """A term's key: folded, letters and digits only ("Morpheus 8" -> "morpheus8")."""
    return "".join(_WORD.findall(fold(term)))


@dataclass(frozen=True)
class TermSet:
    whole: frozenset[str]
    stems: tuple[str, ...]
    longest: int = 0  # no longer run of joined words can be a term (plus a plural ending)

    @classmethod
    def of(cls, terms: Iterable[str]) -> TermSet:
        whole: set[str] = set()
        stems: set[str] = set()
        for term in terms:
            key = squash(term.rstrip("*"))
            if not key:
                continue
            (stems if term.strip().endswith("*") else whole).add(key)
        longest = max((len(k) for k in whole), default=0) + 3
        return cls(frozenset(whole), tuple(sorted(stems)), longest)

    def has(self, word: str) -> bool:
        """The word, or its singular ("fillers", "stitches", "surgeries"), is a term."""
        whole = self.whole
        if word in whole or (self.stems and word.startswith(self.stems)):
            return True
        if word[-1] != "s" or len(word) < 3:
            return False
        return (
            word[:-1] in whole
            or (word.endswith("es") and word[:-2] in whole)
            or (word.endswith("ies") and word[:-3] + "y" in whole)
        )


_BUILT_IN = TermSet.of(BUILT_IN_TERMS)


def _words(text: str) -> list[tuple[str, int, int]]:
    """(folded word, start, end) with offsets into ``text``.

    Folding is per character, so the offsets still point at the text as written.
    """
    if text.isascii():  # the common case: folding is lower-casing, offsets unchanged
        folded = text.lower()
        return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(folded)]
    folded_chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for out in char.lower() if char.isascii() else fold(char):
            folded_chars.append(out)
            origin.append(index)
    folded = "".join(folded_chars)
    return [
        (m.group(0), origin[m.start()], origin[m.end() - 1] + 1) for m in _WORD.finditer(folded)
    ]


def _find(text: str, termsets: Iterable[TermSet]) -> list[str]:
    sets = list(termsets)
    longest = max(s.longest for s in sets)
    stems = tuple(stem for s in sets for stem in s.stems)
    words = _words(text)
    found: list[str] = []
    i = 0
    while i < len(words):
        match_end = None
        joined = ""
        for j in range(i, min(i + _MAX_SPAN, len(words))):
            if j > i and not _JOINER.match(text[words[j - 1][2] : words[j][1]]):
                break
            joined += words[j][0]
            if len(joined) > longest and not joined.startswith(stems):
                break  # too long for any term, and no stem begins it
            # No early exit on a match: the longest spelling wins ("Clear + Brilliant").
            if any(termset.has(joined) for termset in sets):
                match_end = j
        if match_end is None:
            i += 1
            continue
        found.append(" ".join(text[words[i][1] : words[match_end][2]].split()).lower())
        i = match_end + 1
    return found


def practice_terms(session: Session, practice_id: int) -> list[str]:
    return list(session.scalars(select(PhiTerm.term).where(PhiTerm.practice_id == practice_id)))


def phi_found(text: str, extra_terms: Iterable[str] = ()) -> list[str]:
    """The PHI terms in ``text`` as written (lower case, sorted; empty when the text is safe)."""
    extra = [t for t in extra_terms if t.strip()]
    sets = [_BUILT_IN, TermSet.of(extra)] if extra else [_BUILT_IN]
    return sorted(set(_find(text, sets)))


def check_phi(
    session: Session, practice_id: int, text: str, field: str = "body", *, allowed: str = ""
) -> None:
    """Raise ``PhiInText`` naming the terms when ``text`` mentions a treatment or clinical detail.

    ``allowed`` (the practice's own name, e.g. "Glow Laser Studio") is not held against the text.
    """
    if allowed:
        text = re.sub(re.escape(allowed), " ", text, flags=re.IGNORECASE)
    found = phi_found(text, practice_terms(session, practice_id))
    if found:
        raise PhiInText(found, field)


class PhiInText(InvalidInput):
    """A text names a treatment, procedure or clinical detail."""

    def __init__(self, terms: list[str], field: str = "body") -> None:
        super().__init__(
            "texts must not name treatments or clinical details; found: " + ", ".join(terms),
            field,
        )
        self.terms = terms


def add_term(session: Session, practice_id: int, term: str) -> PhiTerm:
    """Extend the practice's term list (idempotent)."""
    clean = " ".join(term.lower().split())
    if not clean or len(clean) > 80 or not squash(clean.rstrip("*")):
        raise InvalidInput("a PHI term is 1 to 80 characters, with a letter or digit", "term")
    existing = session.scalars(
        select(PhiTerm).where(PhiTerm.practice_id == practice_id, PhiTerm.term == clean)
    ).one_or_none()
    if existing is not None:
        return existing
    row = PhiTerm(practice_id=practice_id, term=clean)
    session.add(row)
    session.flush()
    return row
