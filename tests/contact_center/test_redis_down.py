"""Redis is where work waits, not where it lives: with Redis away, webhooks still succeed and
the reconciler finds the work in the database afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy.orm import Session

from contact_center import create_app, runtime
from contact_center.settings import Settings
from contact_center.simulator import Caller, TwilioSimulator
from ivr.jobs import reconcile_text_backs
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BASE_URL, drain_queues, flask_transport
from tests.factories import make_practice
from tests.outbound import rest_requests, run_jobs


@pytest.fixture
def app_without_redis(app: Flask, settings: Settings) -> Iterator[Flask]:
    dead = create_app(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    try:
        yield dead
    finally:
        runtime.install(settings)  # the rest of the suite runs against the real Redis


def test_missed_call_with_redis_down_is_texted_back_by_the_reconciler(
    session: Session, app_without_redis: Flask, redis: Redis, settings: Settings
) -> None:
    practice = make_practice(session)  # no coordinators: the call goes to voicemail, unanswered
    twilio = TwilioSimulator(
        BASE_URL, AUTH_TOKEN, ACCOUNT_SID, flask_transport(app_without_redis.test_client())
    )
    sim = twilio.call("+13105550142", practice.phone_number, Caller(voicemail_seconds=[6]))
    assert sim.errors == []  # every webhook, the final status callback included, answered 200
    assert drain_queues(redis) == 0  # nothing reached Redis

    runtime.install(settings)  # Redis is back: the worker's ticker runs the reconciler
    reconcile_text_backs()
    reconcile_text_backs()  # twice: still one text
    run_jobs(redis)
    texts = rest_requests(session, "Messages")
    assert [(t.form["To"], str(t.form["Body"])[:29]) for t in texts] == [
        ("+13105550142", "Sorry we missed your call at ")
    ]
