"""The randomized journey simulation: a few hundred seeded journeys across a daylight-saving
change, every compliance count at zero (``bench/compliance.py`` runs 10,000)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from contact_center.simulator import TwilioSimulator
from tests.compliance.simulation import report, run_simulation

# Friday 30 October 2026, 00:00 UTC: US daylight saving ends on Sunday 1 November at 2 AM.
START = datetime(2026, 10, 30, 4, 0, tzinfo=UTC)
JOURNEYS = int(os.environ.get("COMPLIANCE_JOURNEYS", "200"))
SEED = int(os.environ.get("COMPLIANCE_SEED", "11"))


def test_every_journey_keeps_every_rule(
    app: Flask, session: Session, client: FlaskClient, twilio: TwilioSimulator, redis: Redis
) -> None:
    result = run_simulation(
        app.test_client, twilio, redis, seed=SEED, journeys=JOURNEYS, start=START, days=4
    )
    print(report(result))
    assert result.activity["patients dialed"] > JOURNEYS // 4  # the journeys did reach people
    assert result.activity["texts sent"] > JOURNEYS // 4
    assert result.violations == 0, report(result)
