"""Fraud and abuse on POST /api/leads: destinations a practice must not text or dial, rate
limits per API key, client address and number (Redis), refused leads kept, lead-rate surges."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from contact_center import clock, create_app, runtime
from contact_center.leads import guard
from contact_center.leads.models import Lead, LeadSurge, RefusedLead
from contact_center.messaging.models import Message, MessagingSettings
from contact_center.models import Practice, Role
from contact_center.settings import Settings
from routing.models import CallbackTask
from tests.conftest import at_local
from tests.leads.test_leads_api import LA, count, lead_body
from tests.outbound import rest_requests, run_jobs
from tests.web.conftest import log_in, make_login


def post(
    client: FlaskClient, key: str, phone: str, idem: str, address: str = "198.51.100.7"
) -> Any:
    return client.post(
        "/api/leads",
        data=json.dumps(lead_body(phone=phone)),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}",
            "Idempotency-Key": idem,
        },
        environ_base={"REMOTE_ADDR": address},
    )


def us_number(n: int) -> str:
    return f"+1310555{100 + n:04d}"  # +1 310 555-01nn


def nothing_sent(session: Session, redis: Redis) -> bool:
    run_jobs(redis)
    return rest_requests(session, "Messages") == [] and rest_requests(session, "Calls") == []


def test_a_burst_of_uk_leads_is_refused_and_a_us_lead_still_goes_through(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    statuses, reasons = [], set()
    for n in range(150):
        response = post(client, api_key, f"+44740012{n:04d}", f"uk-{n}")
        statuses.append(response.status_code)
        reasons.add(response.get_json()["reason"])
    assert set(statuses) == {422} and reasons == {guard.COUNTRY}
    refusal = post(client, api_key, "+447400120000", "uk-again").get_json()
    assert refusal["field"] == "phone" and "CA, US only" in refusal["error"]
    assert (count(session, Lead), count(session, CallbackTask), count(session, Message)) == (
        0,
        0,
        0,
    )
    assert nothing_sent(session, redis)
    kept = session.scalars(select(RefusedLead)).all()
    assert 1 <= len(kept) <= 30  # a flood is kept as a sample; the log has every one
    assert {(r.reason, r.status_code, r.client_address) for r in kept} == {
        (guard.COUNTRY, 422, "198.51.100.7")
    }
    # The refused numbers used up no limit: a real lead from the same address goes through.
    accepted = post(client, api_key, us_number(1), "us-1")
    assert accepted.status_code == 201, accepted.get_json()
    run_jobs(redis)
    texts = rest_requests(session, "Messages")
    assert [t.form["To"] for t in texts] == [us_number(1)]


def test_premium_rate_satellite_and_other_non_personal_numbers_are_refused(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    for phone, reason in (
        ("+19005550123", guard.NUMBER_TYPE),  # US premium rate
        ("+8823456789012", guard.INTERNATIONAL_NETWORK),  # international networks (satellite)
        ("+881612345678", guard.INTERNATIONAL_NETWORK),  # Iridium-style satellite mobile
        ("+18005550199", guard.NUMBER_TYPE),  # toll free: not a patient's phone
        ("+15005550006", guard.NUMBER_TYPE),  # personal (forwarding) number
    ):
        response = post(client, api_key, phone, f"k-{phone}")
        body = response.get_json()
        assert response.status_code == 422 and body["reason"] == reason, (phone, body)
    assert "premium-rate" in post(client, api_key, "+19005550123", "again").get_json()["error"]
    assert count(session, Lead) == 0 and nothing_sent(session, redis)
    canada = post(client, api_key, "+16135550123", "ca-1")
    assert canada.status_code == 201, canada.get_json()


def test_a_practice_chooses_its_countries(
    app: Flask,
    session: Session,
    client: FlaskClient,
    api_key: str,
    practice: Practice,
    redis: Redis,
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["practice", "lead-guard", "--practice", practice.name, "--countries", "us,gb"]
    )
    assert result.exit_code == 0, result.output
    assert "countries GB,US" in result.output
    assert post(client, api_key, "+447400120001", "uk-1").status_code == 201
    assert post(client, api_key, "+16135550123", "ca-1").get_json()["reason"] == guard.COUNTRY
    bad = runner.invoke(
        args=["practice", "lead-guard", "--practice", practice.name, "--per-key", "lots"]
    )
    assert bad.exit_code == 2 and "not a limit" in bad.output


def test_rate_limits_per_api_key(
    session: Session, client: FlaskClient, api_key: str, practice: Practice, redis: Redis
) -> None:
    guard.set_guard_settings(session, practice.id, per_key_limit="3/minute")
    for n in range(3):  # each from its own address to its own number
        assert post(client, api_key, us_number(n), f"k-{n}", f"203.0.113.{n}").status_code == 201
    refused = post(client, api_key, us_number(9), "k-9", "203.0.113.9")
    body = refused.get_json()
    assert refused.status_code == 429 and body["reason"] == guard.RATE_KEY
    assert "Too many leads with this API key" in body["error"]
    assert "try again in 1 minute" in body["error"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60 and body["retry_after"] > 0
    assert count(session, Lead) == 3
    run_jobs(redis)
    assert us_number(9) not in [t.form["To"] for t in rest_requests(session, "Messages")]
    assert len(rest_requests(session, "Messages")) == 3


def test_rate_limits_per_client_address(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    statuses = [post(client, api_key, us_number(n), f"k-{n}").status_code for n in range(6)]
    assert statuses == [201] * 5 + [429]  # the default: 5 a minute from one address
    refused = post(client, api_key, us_number(7), "k-7").get_json()
    assert refused["reason"] == guard.RATE_ADDRESS and "from this address" in refused["error"]
    assert post(client, api_key, us_number(8), "k-8", "192.0.2.44").status_code == 201
    run_jobs(redis)
    sent_to = {t.form["To"] for t in rest_requests(session, "Messages")}
    assert us_number(5) not in sent_to and us_number(7) not in sent_to and len(sent_to) == 6


def test_rate_limits_per_destination_and_replays_are_free(
    session: Session, client: FlaskClient, api_key: str, redis: Redis
) -> None:
    phone = us_number(42)
    first = post(client, api_key, phone, "k-1", "203.0.113.1")
    assert first.status_code == 201
    assert post(client, api_key, phone, "k-2", "203.0.113.2").status_code == 201
    refused = post(client, api_key, phone, "k-3", "203.0.113.3")
    assert refused.status_code == 429
    assert refused.get_json()["reason"] == guard.RATE_DESTINATION
    replay = post(client, api_key, phone, "k-1", "203.0.113.1")  # a retry of an accepted lead
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    kept = session.scalars(select(RefusedLead)).one()
    assert (kept.reason, kept.phone, kept.status_code) == (guard.RATE_DESTINATION, phone, 429)
    assert count(session, Lead) == 2


def test_a_jump_in_the_lead_rate_alerts_the_console_and_texts_the_manager(
    app: Flask,
    session: Session,
    client: FlaskClient,
    api_key: str,
    practice: Practice,
    redis: Redis,
) -> None:
    clock.pin(at_local(LA, 2026, 11, 24, 11, 0))
    practice.manager_phone = "+14155550111"
    session.add(MessagingSettings(practice_id=practice.id, alert_manager_on_breach=True))
    guard.set_guard_settings(session, practice.id, surge_min_leads=4, surge_factor=5)
    for n in range(6):
        response = post(client, api_key, us_number(n), f"k-{n}", f"203.0.113.{n}")
        assert response.status_code == 201
    surge = session.scalars(select(LeadSurge)).one()  # one alert per surge, not one per lead
    assert surge.leads_last_hour == 4 and surge.baseline_per_hour == 0
    run_jobs(redis)
    to_manager = [t for t in rest_requests(session, "Messages") if t.form["To"] == "+14155550111"]
    assert len(to_manager) == 1 and "4 web leads in the last hour" in to_manager[0].form["Body"]
    post(client, api_key, "+19005550123", "premium")
    admin = make_login(session, practice, "gadmin", Role.ADMIN)
    console = app.test_client()
    log_in(console, admin.email or "")
    seen = console.get(f"/p/{practice.id}/api/leads/protection").get_json()
    assert [s["leads_last_hour"] for s in seen["surges"]] == [4]
    assert [(r["reason"], r["phone"]) for r in seen["refused"]] == [
        (guard.NUMBER_TYPE, "+19005550123")
    ]
    assert seen["rules"]["allowed_countries"] == ["CA", "US"]
    coordinator = app.test_client()
    log_in(coordinator, make_login(session, practice, "gcoord").email or "")
    assert coordinator.get(f"/p/{practice.id}/api/leads/protection").status_code == 403


def test_with_redis_away_leads_are_still_limited_in_memory(
    app: Flask, settings: Settings, session: Session, api_key: str, practice: Practice
) -> None:
    dead = create_app(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    try:
        guard.set_guard_settings(session, practice.id, per_key_limit="2/minute")
        client = dead.test_client()
        statuses = [post(client, api_key, us_number(n), f"k-{n}").status_code for n in range(3)]
        assert statuses == [201, 201, 429]
        assert post(client, api_key, "+447400120001", "uk").status_code == 422
    finally:
        runtime.install(settings)  # the rest of the suite runs against the real Redis


def test_admins_change_the_rules_and_see_surges_on_the_protection_page(
    app: Flask,
    session: Session,
    client: FlaskClient,
    api_key: str,
    practice: Practice,
    redis: Redis,
) -> None:
    guard.set_guard_settings(session, practice.id, surge_min_leads=2, surge_factor=5)
    for n in range(2):
        assert post(client, api_key, us_number(n), f"k-{n}", f"203.0.113.{n}").status_code == 201
    post(client, api_key, "+19005550123", "premium")
    admin = make_login(session, practice, "gadmin", Role.ADMIN)
    console = app.test_client()
    csrf = log_in(console, admin.email or "")
    url = f"/p/{practice.id}/leads/protection"
    page = console.get(url).get_data(as_text=True)
    assert 'data-testid="surges"' in page and "+19005550123" in page
    assert "number type not allowed" in page
    bad = console.post(url, data={"csrf_token": csrf, "allowed_countries": "US,Narnia"})
    assert bad.status_code == 422 and "ISO codes" in bad.get_data(as_text=True)
    saved = console.post(
        url,
        data={
            "csrf_token": csrf,
            "allowed_countries": "US,CA,GB",
            "per_key_limit": "10/minute",
            "per_address_limit": "3/minute",
            "per_destination_limit": "1/hour",
            "surge_min_leads": "50",
            "surge_factor": "4",
        },
    )
    assert saved.status_code == 302
    rules = guard.guard_settings(session, practice.id)
    assert rules.allowed_countries == {"US", "CA", "GB"} and rules.per_destination_limit == "1/hour"
    console.post(f"{url}/acknowledge", data={"csrf_token": csrf})
    assert 'data-testid="surges"' not in console.get(url).get_data(as_text=True)
    assert post(client, api_key, "+447400120002", "uk").status_code == 201
