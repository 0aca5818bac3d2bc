"""PHI-safe texts: a text never names a treatment, procedure or clinical detail.

The built-in list covers common aesthetic treatments and clinical words; each practice can
extend it (``PhiTerm``). Matching is whole-word, any case, singular or plural, so "lipo" does not
match "lipstick" but "Botox" and "fillers" are caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput
from contact_center.messaging.models import PhiTerm

BUILT_IN_TERMS: tuple[str, ...] = (
    # neurotoxins and fillers
    "botox",
    "dysport",
    "xeomin",
    "jeuveau",
    "daxxify",
    "neurotoxin",
    "filler",
    "dermal filler",
    "juvederm",
    "restylane",
    "radiesse",
    "sculptra",
    "rha",
    "kybella",
    "lip injection",
    # devices and skin
    "coolsculpting",
    "emsculpt",
    "morpheus8",
    "laser",
    "ipl",
    "microneedling",
    "chemical peel",
    "hydrafacial",
    "prp",
    "thread lift",
    "tattoo removal",
    "hair removal",
    # surgery
    "liposuction",
    "lipo",
    "rhinoplasty",
    "blepharoplasty",
    "facelift",
    "breast augmentation",
    "breast implant",
    "breast reduction",
    "tummy tuck",
    "abdominoplasty",
    "bbl",
    "brazilian butt lift",
    "surgery",
    "surgical",
    "implant",
    # medical and clinical
    "semaglutide",
    "ozempic",
    "wegovy",
    "tirzepatide",
    "mounjaro",
    "weight loss",
    "hormone",
    "hrt",
    "testosterone",
    "iv therapy",
    "prescription",
    "medication",
    "diagnosis",
    "biopsy",
    "lab result",
    "test result",
    "treatment",
    "procedure",
    "injection",
    "injectable",
    "post-op",
    "side effect",
    "allergy",
    "pregnan",
)


def _pattern(term: str) -> str:
    words = [re.escape(w) for w in term.lower().split()]
    body = r"[\s\-]+".join(words)
    if term.endswith("pregnan"):  # a stem: pregnant, pregnancy
        return rf"\b{body}\w*"
    return rf"\b{body}(?:s|es)?\b"


def compile_terms(terms: Iterable[str]) -> re.Pattern[str]:
    unique = sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True)
    return re.compile("|".join(_pattern(t) for t in unique), re.IGNORECASE)


_BUILT_IN = compile_terms(BUILT_IN_TERMS)


def practice_terms(session: Session, practice_id: int) -> list[str]:
    return list(session.scalars(select(PhiTerm.term).where(PhiTerm.practice_id == practice_id)))


def phi_found(text: str, extra_terms: Iterable[str] = ()) -> list[str]:
    """The PHI terms in ``text`` (empty when the text is safe)."""
    found = [m.group(0) for m in _BUILT_IN.finditer(text)]
    extra = list(extra_terms)
    if extra:
        found += [m.group(0) for m in compile_terms(extra).finditer(text)]
    return sorted({f.lower() for f in found})


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
    if not clean or len(clean) > 80:
        raise InvalidInput("a PHI term is 1 to 80 characters", "term")
    existing = session.scalars(
        select(PhiTerm).where(PhiTerm.practice_id == practice_id, PhiTerm.term == clean)
    ).one_or_none()
    if existing is not None:
        return existing
    row = PhiTerm(practice_id=practice_id, term=clean)
    session.add(row)
    session.flush()
    return row
