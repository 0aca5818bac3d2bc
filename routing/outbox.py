"""Work a routing decision leaves for after its transaction commits (REST redirects, timers).

Services only note the work on the session (``after_commit``); ``routing.jobs.install`` turns
notes into RQ jobs once the session's transaction has committed, and drops them on rollback.
The notes are a fast path: the rows say what is due, and the reconciler re-enqueues anything a
lost Redis forgot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

REDIRECT_WAITER = "redirect_waiter"  # args: queue entry id
END_WRAP_UP = "end_wrap_up"  # args: user id, ISO time the wrap-up ends
KICK_RECONCILER = "kick_reconciler"  # no args: make sure the periodic sweep is scheduled
DIAL_ATTEMPT = "dial_attempt"  # args: practice id, attempt id, ISO time the attempt is due

_KEY = "routing.after_commit"


def after_commit(session: Session, kind: str, *args: Any) -> None:
    notes: list[tuple[str, tuple[Any, ...]]] = session.info.setdefault(_KEY, [])
    if (kind, args) not in notes:
        notes.append((kind, args))


def take(session: Session) -> list[tuple[str, tuple[Any, ...]]]:
    notes: list[tuple[str, tuple[Any, ...]]] = session.info.pop(_KEY, [])
    return notes


def discard(session: Session) -> None:
    session.info.pop(_KEY, None)
