"""The jobs a routing decision starts once its transaction commits (REST redirects, timers).

Services call these; each notes the job on the session with ``contact_center.jobs.after_commit``
(referenced by path: routing.jobs imports the services). The rows say what is due, and the
reconciler (contact_center.schedule) redoes anything a lost Redis forgot.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from contact_center import clock
from contact_center.jobs import REALTIME, after_commit


def redirect_waiter(session: Session, entry_id: int) -> None:
    after_commit(
        session,
        "routing.jobs.redirect_waiter",
        entry_id,
        queue=REALTIME,
        job_id=f"redirect-waiter-{entry_id}",
    )


def end_wrap_up(session: Session, user_id: int, until: datetime) -> None:
    after_commit(
        session,
        "routing.jobs.end_wrap_up",
        user_id,
        until.isoformat(),
        queue=REALTIME,
        job_id=f"end-wrap-up-{user_id}-{int(until.timestamp())}",
        at=until,
        timeout=30,
    )


def dial_attempt(session: Session, practice_id: int, attempt_id: int, due: datetime) -> None:
    """A callback task's attempt is due at ``due``: dial it then, or now through the practice's
    ``dial_next`` (the same jobs ``routing.dialer_jobs.schedule_first_dial`` notes)."""
    if due > clock.now():
        after_commit(
            session,
            "routing.dialer_jobs.dial_attempt",
            attempt_id,
            queue=REALTIME,
            job_id=f"dial-{attempt_id}-at",
            at=due,
        )
    else:
        after_commit(
            session,
            "routing.dialer_jobs.dial_next",
            practice_id,
            queue=REALTIME,
            job_id=f"dial-next-{practice_id}",
        )
