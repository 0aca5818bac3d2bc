"""Who sees what: logins, CSRF, roles per practice, and every route refusing other practices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from appointments import catalog
from appointments.models import Appointment
from appointments.services import book
from contact_center.db import utcnow
from contact_center.messaging.models import Conversation
from contact_center.models import Practice, Role, User
from contact_center.patients import find_or_add_patient
from contact_center.web.access import CHECKED
from ivr.models import Call, CallStatus, Direction, MenuChoice
from recordings.models import Recording, RecordingSource
from routing.models import CallbackReason, CallbackStatus, CallbackTask
from tests.factories import make_practice
from tests.web.conftest import PASSWORD, log_in, make_login

# Routes that show no practice's data or are not reached with a console session at all.
PUBLIC = {"/login", "/logout", "/healthz", "/favicon.ico", "/static/<path:filename>"}
# A provider's iCalendar feed: its secret token is the key (tests/appointments/test_caldav.py).
PUBLIC |= {"/calendar/<token>.ics"}
# The patient's reschedule page: a signed, expiring token is its only key (ivr.reschedule_views).
PUBLIC |= {"/r/<token>"}
PUBLIC |= {"/rv/<token>"}  # the tracked review link (journeys.views)
SIGNED_BY_TWILIO = "/twilio/"


@dataclass(frozen=True)
class PracticeData:
    practice: Practice
    coordinator: User
    admin: User
    call: Call
    task: CallbackTask
    conversation: Conversation
    recording: Recording
    appointment: Appointment


def practice_data(session: Session, name: str, prefix: str) -> PracticeData:
    practice = make_practice(session, name=name)
    coordinator = make_login(session, practice, f"{prefix}coord")
    admin = make_login(session, practice, f"{prefix}admin", Role.ADMIN)
    now = utcnow()
    call = Call(
        practice_id=practice.id,
        call_sid="CA" + prefix.encode().hex().ljust(32, "0")[:32],
        direction=Direction.INBOUND,
        from_number="+13105550142",
        to_number=practice.phone_number,
        status=CallStatus.COMPLETED,
        menu_choice=MenuChoice.CONSULTATION,
        recording_allowed=True,
        coordinator_id=coordinator.id,
        answered_by_id=coordinator.id,
        started_at=now,
        answered_at=now + timedelta(seconds=8),
        ended_at=now + timedelta(minutes=3),
        duration_s=172,
    )
    session.add(call)
    session.flush()
    task = CallbackTask(
        practice_id=practice.id,
        phone="+13105550142",
        reason=CallbackReason.MISSED_CALL,
        status=CallbackStatus.OPEN,
        due_at=now,
        sla_deadline=now + timedelta(minutes=5),
        created_at=now,
    )
    conversation = Conversation(
        practice_id=practice.id,
        phone="+13105550142",
        needs_reply=True,
        last_message_at=now,
        created_at=now,
    )
    recording = Recording(
        practice_id=practice.id,
        call_id=call.id,
        recording_sid="RE" + "a" * 31 + prefix[0],
        source=RecordingSource.CALL,
        status="completed",
        url="https://api.twilio.com/x",
        channels=2,
        duration_s=170,
        received_at=now,
    )
    session.add_all([task, conversation, recording])
    session.flush()
    patient = find_or_add_patient(session, practice.id, "+13105550142", now)
    assert patient is not None
    service = catalog.add_service(session, practice.id, "Consultation", 30, "consultation")
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    appointment = book(session, practice.id, patient.id, service.id, start, admin.id, now)
    return PracticeData(
        practice, coordinator, admin, call, task, conversation, recording, appointment
    )


@pytest.fixture
def glow(session: Session) -> PracticeData:
    return practice_data(session, "Glow Aesthetics", "g")


@pytest.fixture
def other(session: Session) -> PracticeData:
    return practice_data(session, "Other Clinic", "o")


def sample_values(data: PracticeData, practice_id: int) -> dict[str, object]:
    """A value for every URL argument of every route; a new argument name must be added here."""
    return {
        "practice_id": practice_id,
        "call_id": data.call.id,
        "task_id": data.task.id,
        "conversation_id": data.conversation.id,
        "recording_id": data.recording.id,
        "call_sid": data.call.call_sid,
        "appointment_id": data.appointment.id,
        "patient_id": data.appointment.patient_id,
    }


def test_every_route_refuses_a_user_of_another_practice(
    app: Flask, glow: PracticeData, other: PracticeData
) -> None:
    client = app.test_client()
    csrf = log_in(client, other.admin.email or "")  # an admin, the widest role, of Other Clinic
    checked, failures = 0, []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.rule.startswith(SIGNED_BY_TWILIO):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, CHECKED, None) == "login":
            continue  # needs a login, shows no practice's data ("/" redirects to your own)
        if rule.rule.startswith("/p/") and getattr(view, CHECKED, None) != "practice":
            failures.append(f"{rule.rule}: console view without the practice check")
        missing = set(rule.arguments) - set(sample_values(glow, 0))
        assert not missing, f"add a sample value for {missing} of {rule.rule}"
        targets = [sample_values(glow, glow.practice.id)]  # Glow's ids under Glow's URL
        if rule.arguments - {"practice_id"}:
            targets.append(sample_values(glow, other.practice.id))  # Glow's ids, own URL
        for values in targets:
            built = rule.build({k: v for k, v in values.items() if k in rule.arguments})
            assert built is not None, f"cannot build {rule.rule} from {values}"
            path = built[1]
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = client.open(
                    path,
                    method=method,
                    json={},
                    headers={"X-CSRF-Token": csrf},
                    buffered=True,
                )
                checked += 1
                if response.status_code not in (401, 403, 404):
                    failures.append(f"{method} {path} ({rule.endpoint}): {response.status_code}")
    assert failures == []
    assert checked > 30


def test_members_reach_their_pages_and_roles_are_enforced(app: Flask, glow: PracticeData) -> None:
    pid = glow.practice.id
    coordinator = app.test_client()
    log_in(coordinator, glow.coordinator.email or "")
    for path in (
        f"/p/{pid}/console",
        f"/p/{pid}/inbox",
        f"/p/{pid}/wallboard",
        f"/p/{pid}/try",
        f"/p/{pid}/calls/{glow.call.id}",
    ):
        assert coordinator.get(path).status_code == 200, path
    assert coordinator.get(f"/p/{pid}/qa").status_code == 403
    assert coordinator.get(f"/p/{pid}/settings").status_code == 403
    admin = app.test_client()
    log_in(admin, glow.admin.email or "")
    for path in (f"/p/{pid}/qa", f"/p/{pid}/settings", f"/p/{pid}/calls/{glow.call.id}"):
        assert admin.get(path).status_code == 200, path
    anonymous = app.test_client()
    assert anonymous.get(f"/p/{pid}/console").status_code == 302
    assert anonymous.get(f"/p/{pid}/api/token").status_code == 401


def test_passwords_are_hashed_and_wrong_ones_refused(
    app: Flask, session: Session, glow: PracticeData
) -> None:
    stored = session.scalars(select(User.password_hash).where(User.id == glow.coordinator.id))
    hashed = stored.one()
    assert hashed and hashed.startswith("scrypt:") and PASSWORD not in hashed
    client = app.test_client()
    log_in(client, glow.coordinator.email or "")
    fresh = app.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    wrong = fresh.post(
        "/login",
        data={"email": glow.coordinator.email, "password": "nope-nope", "csrf_token": token},
    )
    assert wrong.status_code == 401 and "do not match" in wrong.get_data(as_text=True)
    no_csrf = fresh.post("/login", data={"email": glow.coordinator.email, "password": PASSWORD})
    assert no_csrf.status_code == 400


def test_console_posts_need_the_csrf_token(app: Flask, glow: PracticeData) -> None:
    client = app.test_client()
    csrf = log_in(client, glow.coordinator.email or "")
    url = f"/p/{glow.practice.id}/api/presence"
    assert client.post(url, json={"state": "away"}).status_code == 400
    assert (
        client.post(url, json={"state": "away"}, headers={"X-CSRF-Token": "forged"}).status_code
        == 400
    )
    ok = client.post(url, json={"state": "away"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.get_json()["state"] == "away"


def test_softphone_token_allows_incoming_calls_for_the_coordinator(
    app: Flask, glow: PracticeData
) -> None:
    client = app.test_client()
    log_in(client, glow.coordinator.email or "")
    body = client.get(f"/p/{glow.practice.id}/api/token").get_json()
    settings = app.extensions["contact_center.settings"]
    claims = jwt.decode(body["token"], settings.twilio_auth_token, algorithms=["HS256"])
    assert claims["grants"]["identity"] == "gcoord"
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
    assert claims["sub"] == settings.twilio_account_sid
    assert claims["exp"] - claims["nbf"] == body["ttl"] == 3600
    assert 0 < body["refresh_before"] < body["ttl"]


def test_screen_pop_shows_the_callers_context(app: Flask, glow: PracticeData) -> None:
    client = app.test_client()
    log_in(client, glow.coordinator.email or "")
    pop = client.get(
        f"/p/{glow.practice.id}/api/screen-pop?call_sid={glow.call.call_sid}"
    ).get_json()
    assert pop["practice"] == "Glow Aesthetics"
    assert pop["phone"] == "+13105550142"
    assert pop["menu_choice"] == "new consultation"
    assert pop["recording_consent"] == "recording allowed"
    assert pop["sms_opted_out"] is False
    assert [c["reason"] for c in pop["open_callbacks"]] == ["missed_call"]


# Routes that take a call by query string rather than by URL argument.
CALL_BY_QUERY = {"api.screen_pop": "call_sid"}
# The sandbox's simulated phones name the simulator's own calls, not the practice's records; their
# owner checks live in sandbox_calls (a call is driven only by whoever placed or is rung by it).
SIMULATED_PHONES = "sandbox."


def call_scoped_requests(app: Flask, data: PracticeData) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every console route that reads or changes one call."""
    found = []
    values = sample_values(data, data.practice.id)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(SIMULATED_PHONES) or rule.rule.startswith(SIGNED_BY_TWILIO):
            continue
        by_query = CALL_BY_QUERY.get(rule.endpoint)
        if not ({"call_id", "call_sid"} & set(rule.arguments)) and by_query is None:
            continue
        built = rule.build({k: v for k, v in values.items() if k in rule.arguments})
        assert built is not None
        path = built[1] + (f"?{by_query}={values[by_query]}" if by_query else "")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def test_every_call_route_follows_the_call_rule_for_each_role(
    app: Flask, session: Session, glow: PracticeData
) -> None:
    """Same practice: the coordinator on the call, QA leads and admins; a colleague never."""
    colleague = make_login(session, glow.practice, "gcolleague")
    qa_lead = make_login(session, glow.practice, "gqalead", Role.QA_LEAD)
    requests = call_scoped_requests(app, glow)
    endpoints = {endpoint for endpoint, _, _ in requests}
    assert {
        "api.screen_pop",
        "api.outcome",
        "pages.call_detail",
        "pages.recording_audio",
        "pages.review_override",
    } <= endpoints
    supervising_only = {"pages.review_override", "pages.review_comment", "pages.review_finalize"}
    failures = []
    for user, who in (
        (colleague, "colleague"),
        (glow.coordinator, "on the call"),
        (qa_lead, "qa lead"),
        (glow.admin, "admin"),
    ):
        client = app.test_client()
        csrf = log_in(client, user.email or "")
        for endpoint, method, path in requests:
            response = client.open(
                path, method=method, json={}, headers={"X-CSRF-Token": csrf}, buffered=True
            )
            status = response.status_code
            expect_refused = who == "colleague" or (
                who == "on the call" and endpoint in supervising_only  # reviewing: QA's role
            )
            if expect_refused:
                ok = status == 403
            else:  # allowed through; the route may still refuse the empty form (4xx) or 404
                ok = status not in (401, 403) and b"no such call" not in response.data
            if not ok:
                failures.append(f"{who}: {method} {path} ({endpoint}) -> {status}")
    assert failures == []


def test_a_colleague_cannot_set_the_outcome_or_read_the_screen_pop(
    app: Flask, session: Session, glow: PracticeData
) -> None:
    """Ava must not change Ben's outcome nor read his caller's name and history."""
    from contact_center.models import Patient
    from qa.models import CallOutcome

    patient = Patient(practice_id=glow.practice.id, phone="+13105550177", first_name="Karen")
    session.add(patient)
    session.flush()
    glow.call.patient_id = patient.id
    session.flush()
    pid, call = glow.practice.id, glow.call
    colleague = make_login(session, glow.practice, "gcolleague")
    client = app.test_client()
    csrf = log_in(client, colleague.email or "")
    pop = client.get(f"/p/{pid}/api/screen-pop?call_sid={call.call_sid}")
    assert pop.status_code == 403 and b"Karen" not in pop.data
    changed = client.post(
        f"/p/{pid}/api/calls/{call.id}/outcome",
        json={"outcome": "not_interested"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 403
    outcomes = select(CallOutcome).where(CallOutcome.call_id == call.id)
    assert session.scalars(outcomes).first() is None
    assert client.get(f"/p/{pid}/calls/{call.id}").status_code == 403
    owner = app.test_client()
    csrf = log_in(owner, glow.coordinator.email or "")
    mine = owner.get(f"/p/{pid}/api/screen-pop?call_sid={call.call_sid}")
    assert mine.status_code == 200 and mine.get_json()["name"] == "Karen"
    done = owner.post(
        f"/p/{pid}/api/calls/{call.id}/outcome",
        json={"outcome": "not_interested"},
        headers={"X-CSRF-Token": csrf},
    )
    assert done.status_code == 200 and done.get_json()["outcome"]["outcome"] == "not_interested"
