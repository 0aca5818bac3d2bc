"""Test fixtures on real PostgreSQL and Redis.

- Schema once per session with ``alembic upgrade head`` on a fresh ``public`` schema.
- Each test runs inside a transaction that is rolled back; the app's sessions join it with
  savepoints, so code under test may commit.
- Redis: a dedicated database, flushed around each test.
- Tests marked ``committed`` get real commits (threads, processes) and truncated tables after.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from contact_center import clock, create_app, db
from contact_center.cli import alembic_config
from contact_center.schema import metadata
from contact_center.settings import Settings
from contact_center.simulator import TwilioSimulator

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# No model hub in tests: the Whisper model is the one installed from PyPI, joined once per
# machine into this directory (145 MB) rather than once per test session.
os.environ["HF_HUB_OFFLINE"] = "1"
WHISPER_MODELS_DIR = Path(tempfile.gettempdir()) / "contact-center-test-models"
BASE_URL = "https://cc.example.test"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "1" * 32


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings(
        env="test",
        database_url=TEST_DATABASE_URL,
        redis_url=TEST_REDIS_URL,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=BASE_URL,
        secret_key="test-secret-key",
        var_dir=var,
        recordings_dir=var / "recordings",
        sandbox=True,
        whisper_models_dir=WHISPER_MODELS_DIR,
    )


def reset_schema(url: str) -> None:
    """Drop everything and migrate from nothing: the migrations are what is tested."""
    from alembic import command

    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    command.upgrade(alembic_config(url), "heads")


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[Flask]:
    reset_schema(settings.database_url)
    yield create_app(settings)
    db.get_engine().dispose()


@pytest.fixture(scope="session")
def engine(app: Flask) -> Engine:
    return db.get_engine()


@pytest.fixture(autouse=True)
def _pinned_clock() -> Iterator[None]:
    yield
    clock.pin(None)


@pytest.fixture
def session(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Session]:
    """The test's session. Everything the app does inside the test joins its transaction."""
    if request.node.get_closest_marker("committed"):
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        db.bind(factory)
        s = factory()
        yield s
        s.close()
        truncate_all(engine)
        return
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    db.bind(factory)
    s = factory()
    try:
        yield s
    finally:
        s.close()
        outer.rollback()
        connection.close()
        db.bind(sessionmaker(bind=engine, expire_on_commit=False))


def truncate_all(engine: Engine) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis(settings: Settings) -> Iterator[Redis]:
    conn = Redis.from_url(settings.redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def client(app: Flask, session: Session) -> FlaskClient:
    return app.test_client()


def flask_transport(client: FlaskClient) -> Any:
    def send(url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
        path = url.removeprefix(BASE_URL)
        response = client.post(path, data=dict(form), headers=dict(headers))
        return response.status_code, response.get_data(as_text=True)

    return send


@pytest.fixture
def twilio(client: FlaskClient) -> TwilioSimulator:
    """Twilio's side of every call, against the app under test."""
    return TwilioSimulator(BASE_URL, AUTH_TOKEN, ACCOUNT_SID, flask_transport(client))


def at_local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC instant from a local wall-clock time: at_local("America/Los_Angeles", 2026, 11, 23,
    10) is 10 AM in Los Angeles on 23 November 2026."""
    from zoneinfo import ZoneInfo

    local = datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


ROOT = Path(__file__).resolve().parent.parent


def drain_queues(connection: Redis) -> int:
    """Run every queued job to completion in this process (a burst worker, no fork).

    Returns how many jobs ran. Jobs share the test's transaction through the bound factory.
    """
    from rq import Queue, SimpleWorker

    from contact_center.jobs import ALL_QUEUES

    queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
    before = sum(q.count for q in queues)
    SimpleWorker(queues, connection=connection).work(burst=True)
    return before
