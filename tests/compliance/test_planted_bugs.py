"""The simulation catches each rule broken on purpose: the product function that enforces the
rule is replaced, for one test, by a broken version, and the simulation must report it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.orm import Session

from contact_center.messaging import calling_hours, phi, quiet_hours
from contact_center.messaging import services as messaging
from contact_center.simulator import TwilioSimulator
from ivr import consent
from routing import dialer, dialer_legs, outreach
from routing.dialer_models import AttemptState
from tests.compliance.simulation import report, run_simulation

START = datetime(2026, 10, 30, 4, 0, tzinfo=UTC)
Plant = Callable[[pytest.MonkeyPatch], None]


def records_without_asking(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(consent, "decide", lambda *a, **k: consent.ConsentDecision(True, "dtmf"))


def forgets_opt_outs(mp: pytest.MonkeyPatch) -> None:
    """A STOP is confirmed but never stored, and the cadence goes on."""
    mp.setattr(messaging, "set_opt_out", lambda *a, **k: False)
    mp.setattr(dialer, "stop_for_opt_out", lambda *a, **k: None)


def ignores_quiet_hours(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(quiet_hours, "is_quiet", lambda *a, **k: False)
    mp.setattr(quiet_hours, "next_allowed", lambda phone, zone, at, *a, **k: at)


def forgets_state_hours(mp: pytest.MonkeyPatch) -> None:
    """Every number gets the federal 8:00 to 21:00, Florida's and Connecticut's too."""
    mp.setattr(quiet_hours, "window_for", lambda *a, **k: calling_hours.FEDERAL)


def lets_treatment_names_out(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(phi, "check_phi", lambda *a, **k: None)


def bridges_on_every_retry(mp: pytest.MonkeyPatch) -> None:
    """The attempt's state is no longer checked: a replayed connect bridges the patient again."""
    current = dialer_legs._current

    def broken(session: Any, attempt_id: int, token: str, states: Any) -> Any:
        return current(session, attempt_id, token, tuple(AttemptState))

    mp.setattr(dialer_legs, "_current", broken)


def ignores_the_daily_cap(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(outreach, "cap_reached_until", lambda *a, **k: None)


@pytest.mark.parametrize(
    ("plant", "rules", "journeys"),
    [
        (records_without_asking, ["recording_without_consent"], 80),
        (forgets_opt_outs, ["text_after_opt_out", "call_after_opt_out"], 80),
        (ignores_quiet_hours, ["call_in_federal_quiet_hours", "text_in_federal_quiet_hours"], 80),
        # A state window is an hour narrower: it takes more journeys to land in that hour
        # (the CI run's own journeys: Connecticut patients are due at 8:00 there).
        (forgets_state_hours, ["call_in_state_quiet_hours", "text_in_state_quiet_hours"], 200),
        (lets_treatment_names_out, ["treatment_term_in_text"], 80),
        (bridges_on_every_retry, ["attempt_dialed_twice"], 80),
        (ignores_the_daily_cap, ["over_daily_cap"], 80),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_the_simulation_catches_a_planted_bug(
    app: Flask,
    session: Session,
    client: FlaskClient,
    twilio: TwilioSimulator,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    plant: Plant,
    rules: list[str],
    journeys: int,
) -> None:
    plant(monkeypatch)
    seed, days = (11, 4.0) if journeys >= 200 else (5, 3.0)
    result = run_simulation(
        app.test_client, twilio, redis, seed=seed, journeys=journeys, start=START, days=days
    )
    caught = {rule: result.counts[rule] for rule in rules}
    assert any(caught.values()), report(result)
