"""The admin's appointment settings: services, providers with feed URLs, the CalDAV calendar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy.orm import Session

from appointments import caldav_sync, catalog
from contact_center.models import Role
from tests.appointments.radicale_server import PASSWORD, USER, running
from tests.conftest import drain_queues
from tests.factories import make_practice
from tests.recordings.media_server import installed
from tests.web.conftest import log_in, make_login

KEY = "3c" * 32


@pytest.fixture
def keyed(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from contact_center import runtime

    keyed = runtime.current_settings().with_overrides(recordings_key=KEY)
    monkeypatch.setitem(app.extensions, "contact_center.settings", keyed)
    with installed(recordings_key=KEY):
        yield


@pytest.mark.usefixtures("keyed")
def test_an_admin_sets_up_services_providers_and_the_calendar(
    app: Flask, session: Session, redis: Redis, tmp_path: Path
) -> None:
    practice = make_practice(session, name="Glow Settings")
    make_login(session, practice, "adm", Role.ADMIN)
    make_login(session, practice, "crd", Role.COORDINATOR)
    admin = app.test_client()
    csrf = log_in(admin, "adm@example.test")
    base = f"/p/{practice.id}/settings/appointments"

    assert admin.get(base).status_code == 200
    added = admin.post(
        base + "/services",
        data={"csrf_token": csrf, "name": "Consultation", "minutes": "30", "kind": "consultation"},
    )
    assert added.status_code == 302
    bad = admin.post(
        base + "/services",
        data={"csrf_token": csrf, "name": "Peel", "minutes": "²", "kind": "treatment"},
    )
    assert bad.status_code == 422 and "whole number" in bad.get_data(as_text=True)
    bad_hours = admin.post(
        base + "/providers", data={"csrf_token": csrf, "name": "Dana", "hours": "mon 9-5"}
    )
    assert bad_hours.status_code == 422
    assert (
        admin.post(
            base + "/providers",
            data={"csrf_token": csrf, "name": "Dana", "hours": "mon-fri 09:00-17:00"},
        ).status_code
        == 302
    )
    [dana] = catalog.providers_of(session, practice.id)
    page = admin.get(base).get_data(as_text=True)
    assert "Consultation" in page and f"/calendar/{dana.feed_token}.ics" in page

    with running(tmp_path) as server:
        saved = admin.post(
            base + "/calendar",
            data={
                "csrf_token": csrf,
                "url": server.url,
                "username": USER,
                "password": PASSWORD,
                "calendar_path": server.calendar_path,
            },
        )
        assert saved.status_code == 302
        assert drain_queues(redis) == 1  # the busy-time read, on a real RQ worker
        connection = caldav_sync.connection_of(session, practice.id)
        assert connection is not None and connection.busy_synced_at is not None
        assert connection.last_error is None
        page = admin.get(base).get_data(as_text=True)
        assert PASSWORD not in page and connection.password_encrypted not in page
        assert 'data-testid="calendar-status">connected' in page

    coordinator = app.test_client()
    log_in(coordinator, "crd@example.test")
    assert coordinator.get(base).status_code == 403
