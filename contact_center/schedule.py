"""The one table of periodic jobs: what every worker's ticker enqueues, and how often.

Each entry is a reconciler or sweep that reads the database for what is due, so running it late,
twice, or from several workers at once is harmless; its ``job_id`` is unique in Redis (see
``contact_center.jobs.enqueue``), so many workers never pile up runs of one entry.

To add one: append a ``Periodic(job_id, "package.module.function", queue, every_s)``. Give it a
job id no other entry (and no other enqueue) uses; ``every_s=None`` follows the worker's
``--reconcile-every`` (15 s by default), a number is a floor (the entry never runs more often).
The function takes no arguments and is referenced by path, so this module imports no feature.
"""

from __future__ import annotations

from dataclasses import dataclass

from contact_center.jobs import DEFAULT, REALTIME


@dataclass(frozen=True)
class Periodic:
    job_id: str
    func: str  # "package.module.function", no arguments
    queue: str
    every_s: float | None = None  # None: the worker's --reconcile-every; else at least this

    def period(self, reconcile_every_s: float) -> float:
        return max(reconcile_every_s, self.every_s or 0.0)


SCHEDULE: tuple[Periodic, ...] = (
    # Presence and the inbound queue: silent browsers, expired reservations, ended wrap-ups,
    # waiters with a free coordinator, redirects never sent.
    Periodic("routing-reconcile", "routing.jobs.reconcile", REALTIME),
    # The callback dialer: attempts that came due or were left claimed.
    Periodic("dialer-reconcile", "routing.dialer_jobs.reconcile_due", REALTIME),
    Periodic("texts-reconcile", "contact_center.messaging.jobs.reconcile_texts", REALTIME),
    Periodic("text-back-reconcile", "ivr.jobs.reconcile_text_backs", REALTIME),
    # Appointment reminders that came due (or were left claimed by a killed worker).
    Periodic("reminders-reconcile", "appointments.reminder_jobs.reconcile_reminders", REALTIME),
    Periodic("recordings-reconcile", "recordings.jobs.reconcile_downloads", DEFAULT, 300),
    # Recordings Twilio still holds that must go (no consent, or stored here).
    Periodic("twilio-deletions-reconcile", "recordings.jobs.reconcile_deletions", DEFAULT, 60),
    # Stored recordings without a transcript, call transcripts without a score.
    Periodic("transcripts-reconcile", "transcription.jobs.reconcile_transcripts", DEFAULT, 300),
    Periodic("recordings-retention", "recordings.jobs.enqueue_retention", DEFAULT, 3600),
    # Appointments not yet in the practice's calendar; the calendar's busy times.
    Periodic("calendar-reconcile", "appointments.jobs.reconcile_calendars", DEFAULT, 60),
    Periodic("calendar-busy", "appointments.jobs.sync_all_busy", DEFAULT, 300),
    # Journey steps that came due; fulfilled / no-show changes whose start job was lost.
    Periodic("journeys-reconcile", "journeys.jobs.reconcile_journeys", DEFAULT),
)
