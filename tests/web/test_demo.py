"""The run command's demo: console logins and a day of sample activity, seeded once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contact_center import auth, demo
from contact_center.db import utcnow
from contact_center.messaging.models import Conversation
from contact_center.web.demo_data import DEMO_PASSWORD
from ivr.models import Call
from qa.models import CallOutcome, CallScore
from routing.models import CallbackTask


def test_demo_seed_gives_logins_and_sample_data_once(app: Flask, session: Session) -> None:
    assert demo.seed(session, utcnow()).startswith("demo practice created")
    for email in ("ava@glow.example", "quinn@glow.example", "adele@glow.example"):
        assert auth.authenticate(session, email, DEMO_PASSWORD) is not None
    demo.seed(session, utcnow())  # the run command seeds on every start
    assert session.scalar(select(func.count()).select_from(Call)) == 2
    assert session.scalar(select(func.count()).select_from(CallScore)) == 2
    assert session.scalar(select(func.count()).select_from(CallOutcome)) == 2
    assert session.scalar(select(func.count()).select_from(CallbackTask)) == 1
    opted = session.scalars(select(Conversation).where(Conversation.opted_out_at.is_not(None)))
    assert len(opted.all()) == 1
    page = app.test_client().get("/login").get_data(as_text=True)
    assert "adele@glow.example" in page and DEMO_PASSWORD in page  # sandbox mode shows them
