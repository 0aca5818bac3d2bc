"""The demo practice a first run shows: Glow Aesthetics with two coordinators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import practices
from contact_center.models import Practice

DEMO_NAME = "Glow Aesthetics"
DEMO_NUMBER = "+14155550100"
DEMO_ZONE = "America/Los_Angeles"
DEMO_HOURS = "mon-fri 09:00-18:00, sat 10:00-14:00"
DEMO_COORDINATORS = (("Ava Martinez", "ava"), ("Ben Carter", "ben"))


def seed(session: Session, now: datetime) -> str:
    """Create the demo practice and coordinators if missing; returns what it did."""
    practice = session.scalars(select(Practice).where(Practice.name == DEMO_NAME)).one_or_none()
    created = practice is None
    if practice is None:
        practice = practices.create_practice(
            session,
            name=DEMO_NAME,
            number=DEMO_NUMBER,
            timezone=DEMO_ZONE,
            hours=DEMO_HOURS,
            greeting="Thank you for calling Glow Aesthetics.",
        )
    for name, identity in DEMO_COORDINATORS:
        practices.add_staff(session, practice, name=name, identity=identity, now=now)
    from contact_center.web import demo_data

    demo_data.seed_logins(session, practice, now)  # the login page lists them in sandbox mode
    if created:
        demo_data.seed_sample_data(session, practice, now)
    return f"demo practice {'created' if created else 'already present'}: {DEMO_NAME} {DEMO_NUMBER}"
