"""Typed builders for test data: ``make_practice(session, **overrides)``."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from contact_center import practices
from contact_center.db import utcnow
from contact_center.models import ConsentMode, Practice, Role, User
from routing import services as routing
from routing.models import PresenceState

_seq = itertools.count(1)


def make_practice(session: Session, **overrides: object) -> Practice:
    n = next(_seq)
    values: dict[str, object] = {
        "name": f"Practice {n}",
        "number": f"+1415555{n:04d}",
        "timezone": "America/Los_Angeles",
        "hours": "mon-sun 00:00-24:00",
        "consent_mode": ConsentMode.ALL_PARTY.value,
        "greeting": None,
    }
    values.update(overrides)
    return practices.create_practice(session, **values)  # type: ignore[arg-type]


def make_coordinator(
    session: Session,
    practice: Practice,
    identity: str | None = None,
    *,
    state: PresenceState = PresenceState.AVAILABLE,
    idle_since: datetime | None = None,
    role: Role = Role.COORDINATOR,
) -> User:
    identity = identity or f"coord{next(_seq)}"
    now = utcnow()
    user = practices.add_staff(
        session, practice, name=identity.title(), identity=identity, role=role, now=now
    )
    presence = routing.presence_of(session, user.id, now)
    presence.state = state
    presence.idle_since = idle_since or now - timedelta(minutes=5)
    session.flush()
    return user
