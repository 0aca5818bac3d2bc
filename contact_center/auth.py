"""Console logins: password hashing, authentication, roles per practice, CSRF tokens.

No Flask here: the web layer keeps the user id and CSRF token in its signed session and asks
these functions. Roles are per practice (a person may coordinate for one practice and review
QA for another). Not being a member of a practice looks exactly like the data not existing
(``NotFound``), so another practice's ids reveal nothing; a member without the role gets
``Forbidden``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from contact_center import practices
from contact_center.errors import Forbidden, InvalidInput, NotFound
from contact_center.models import LoginSession, Membership, Practice, Role, User

MIN_PASSWORD_LENGTH = 8
# Checked when the email is unknown, so a login takes as long whether or not the user exists.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000")

ALL_ROLES = frozenset(Role)
SUPERVISORS = frozenset({Role.ADMIN, Role.QA_LEAD})


def hash_password(password: str) -> str:
    """A salted hash (werkzeug's scrypt). Raises InvalidInput for a too-short password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", "password"
        )
    return generate_password_hash(password)


def set_password(session: Session, user: User, password: str, now: datetime) -> None:
    """A new password; every session of the user ends (a stolen cookie stops working).
    Raises InvalidInput for a too-short password."""
    user.password_hash = hash_password(password)
    end_all_sessions(session, user.id, now)


def deactivate(session: Session, user: User, now: datetime) -> None:
    """The user can no longer log in, and every session of theirs ends now."""
    user.deactivated_at = user.deactivated_at or now
    end_all_sessions(session, user.id, now)


def reactivate(user: User) -> None:
    user.deactivated_at = None


def start_session(session: Session, user: User, now: datetime, lifetime: timedelta) -> str:
    """A new login session for the user; returns the token the browser's cookie carries."""
    session.execute(
        delete(LoginSession).where(
            LoginSession.user_id == user.id,
            (LoginSession.expires_at < now) | LoginSession.ended_at.is_not(None),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            user_id=user.id, token_sha256=_digest(token), created_at=now, expires_at=now + lifetime
        )
    )
    session.flush()
    return token


def session_user(session: Session, user_id: int, token: str, now: datetime) -> User | None:
    """The user of a live login session (not ended, not expired, user active), else None."""
    return session.scalars(
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.password_hash.is_not(None),
            User.deactivated_at.is_(None),
            LoginSession.token_sha256 == _digest(token),
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
        )
    ).one_or_none()


def end_session(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_sha256 == _digest(token), LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_all_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every live session of the user; returns how many."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_by_email(session: Session, email: str) -> User | None:
    wanted = email.strip().lower()
    if not wanted:
        return None
    return session.scalars(select(User).where(func.lower(User.email) == wanted)).one_or_none()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, or None (unknown email, no password, deactivated,
    mismatch)."""
    user = user_by_email(session, email)
    if user is None or not user.password_hash or user.deactivated_at is not None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def create_login(
    session: Session,
    practice: Practice,
    *,
    name: str,
    identity: str,
    email: str,
    role: Role,
    password: str,
    now: datetime,
) -> User:
    """Give a person a console login with ``role`` at ``practice`` (creating the user if new).

    Raises InvalidInput for a malformed email, an email held by someone else or a short password.
    """
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or " " in email:
        raise InvalidInput(f"{email!r} is not an email address", "email")
    password_hash = hash_password(password)
    holder = user_by_email(session, email)
    if holder is not None and holder.identity != identity:
        raise InvalidInput(f"{email} belongs to another user already", "email")
    user = practices.add_staff(session, practice, name=name, identity=identity, role=role, now=now)
    user.email = email
    user.password_hash = password_hash
    session.flush()
    return user


def roles_by_practice(session: Session, user_id: int) -> dict[int, Role]:
    rows = session.execute(
        select(Membership.practice_id, Membership.role).where(Membership.user_id == user_id)
    )
    return {practice_id: role for practice_id, role in rows}


def member_practices(session: Session, user_id: int) -> list[tuple[Practice, Role]]:
    """The user's practices with their role there, by practice name."""
    rows = session.execute(
        select(Practice, Membership.role)
        .join(Membership, Membership.practice_id == Practice.id)
        .where(Membership.user_id == user_id)
        .order_by(Practice.name)
    )
    return [(practice, role) for practice, role in rows]


def require_role(
    session: Session, user_id: int, practice_id: int, roles: Iterable[Role] = ALL_ROLES
) -> Role:
    """The user's role at the practice if it is one of ``roles``.

    Raises NotFound when the user is not a member (the practice might as well not exist),
    Forbidden when they are a member without one of the roles.
    """
    role = session.scalars(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.practice_id == practice_id
        )
    ).one_or_none()
    if role is None:
        raise NotFound("no such practice")
    if role not in set(roles):
        raise Forbidden(f"your role at this practice ({role.value}) does not allow this")
    return role


def may_handle_call(
    session: Session, user_id: int, practice_id: int, on_call: Iterable[int | None]
) -> bool:
    """THE access rule for a call and everything attached to it (recording, transcript,
    outcome, screen pop): the practice's QA leads and admins, and the coordinator on that call
    (``on_call``: the users reserved for or answering it). Nobody else, not even a colleague.

    Features pass plain values (this module knows no Call) so the rule has one home that the
    console, recordings, transcription and QA all call.
    """
    role = session.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.practice_id == practice_id
        )
    )
    if role in SUPERVISORS:
        return True
    return role is Role.COORDINATOR and user_id in set(on_call)


def require_call_access(
    session: Session, user_id: int, practice_id: int, on_call: Iterable[int | None]
) -> None:
    """``may_handle_call`` or ``Forbidden``."""
    if not may_handle_call(session, user_id, practice_id, on_call):
        raise Forbidden(
            "only the coordinator on this call and the practice's QA leads and admins may "
            "see or change it"
        )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_valid(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's token with the one a form or header sent."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
