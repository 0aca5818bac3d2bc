"""The one enqueue helper: job ids coalesce waiting jobs; a running scan gets one follow-up."""

from __future__ import annotations

import os

from redis import Redis
from rq.job import JobStatus

from contact_center.jobs import REALTIME, enqueue, get_queue
from contact_center.settings import Settings


def test_a_job_id_coalesces_while_the_job_waits(settings: Settings, redis: Redis) -> None:
    first = enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1")
    again = enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1")
    assert again.id == first.id
    assert get_queue(settings, REALTIME).count == 1


def test_a_running_scan_gets_one_follow_up_run(settings: Settings, redis: Redis) -> None:
    running = enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1")
    get_queue(settings, REALTIME).remove(running)
    running.set_status(JobStatus.STARTED)  # a worker took it and is scanning
    # Without a rerun, the running job answers for the request.
    assert (
        enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1", rerun_if_running=False).id
        == "scan-1"
    )
    assert get_queue(settings, REALTIME).count == 0
    follow_up = enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1")
    assert follow_up.id == "scan-1-again"
    twice = enqueue(settings, os.getpid, queue=REALTIME, job_id="scan-1")
    assert twice.id == "scan-1-again"
    assert get_queue(settings, REALTIME).job_ids == ["scan-1-again"]
