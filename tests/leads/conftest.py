"""Fixtures shared by the lead tests: a practice in Los Angeles and its website API key."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.leads import services as leads
from contact_center.models import Practice
from tests.factories import make_practice


@pytest.fixture
def practice(session: Session) -> Practice:
    return make_practice(session, name="Glow Aesthetics", timezone="America/Los_Angeles")


@pytest.fixture
def api_key(session: Session, practice: Practice) -> str:
    return leads.create_api_key(session, practice, clock.now(), label="website")
