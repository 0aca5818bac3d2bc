"""Onboarding: practices and their coordinators (used by the admin CLI and the console)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center.errors import InvalidInput, NotFound
from contact_center.hours import OpeningHours
from contact_center.models import ConsentMode, Membership, Practice, Role, User
from contact_center.phones import check_zone, to_e164

_IDENTITY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def create_practice(
    session: Session,
    *,
    name: str,
    number: str,
    timezone: str,
    hours: str,
    consent_mode: str = ConsentMode.ALL_PARTY.value,
    greeting: str | None = None,
) -> Practice:
    """Validate everything first, then add the practice. Raises InvalidInput naming the field."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("practice name is empty", "name")
    e164 = to_e164(number)
    check_zone(timezone)
    spec = OpeningHours.parse(hours).spec()
    try:
        mode = ConsentMode(consent_mode)
    except ValueError as exc:
        raise InvalidInput("consent mode must be all_party or one_party", "consent_mode") from exc
    if session.scalars(select(Practice.id).where(Practice.name == name)).first():
        raise InvalidInput(f"a practice named {name!r} exists already", "name")
    if session.scalars(select(Practice.id).where(Practice.phone_number == e164)).first():
        raise InvalidInput(f"{e164} belongs to another practice already", "number")
    practice = Practice(
        name=name,
        phone_number=e164,
        timezone=timezone,
        hours_spec=spec,
        consent_mode=mode,
        greeting=greeting,
    )
    session.add(practice)
    session.flush()
    return practice


def practice_by_name(session: Session, name: str) -> Practice:
    practice = session.scalars(select(Practice).where(Practice.name == name)).one_or_none()
    if practice is None:
        raise NotFound(f"no practice named {name!r}")
    return practice


def list_practices(session: Session) -> list[Practice]:
    return list(session.scalars(select(Practice).order_by(Practice.name)))


def add_staff(
    session: Session,
    practice: Practice,
    *,
    name: str,
    identity: str,
    role: Role = Role.COORDINATOR,
    now: datetime,
) -> User:
    """Add a person to a practice (creating the user on first use of the identity)."""
    if not _IDENTITY.match(identity):
        raise InvalidInput(
            "identity may use letters, digits, '_', '-' and '.', at most 64 characters", "identity"
        )
    user = session.scalars(select(User).where(User.identity == identity)).one_or_none()
    if user is None:
        user = User(name=" ".join(name.split()) or identity, identity=identity, created_at=now)
        session.add(user)
        session.flush()
    membership = session.scalars(
        select(Membership).where(
            Membership.user_id == user.id, Membership.practice_id == practice.id
        )
    ).one_or_none()
    if membership is None:
        session.add(Membership(user_id=user.id, practice_id=practice.id, role=role))
    else:
        membership.role = role
    session.flush()
    return user
