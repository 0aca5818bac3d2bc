"""The connection pool survives connections the database dropped (no per-checkout pre-ping)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from contact_center import db
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def one_connection_engine() -> Iterator[Engine]:
    engine = db.make_engine(TEST_DATABASE_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def drop_pooled_connection(engine: Engine) -> None:
    """What a database restart does to an idle pooled connection: the server ends it."""
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    killer = create_engine(TEST_DATABASE_URL, poolclass=NullPool)
    with killer.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()


def test_a_connection_dropped_while_idle_is_replaced_on_checkout(
    one_connection_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_pooled_connection(one_connection_engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    with one_connection_engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1


def test_a_connection_dropped_moments_after_use_fails_once_then_the_pool_reconnects(
    one_connection_engine: Engine,
) -> None:
    drop_pooled_connection(one_connection_engine)
    with pytest.raises(DBAPIError) as raised, one_connection_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated  # what voice_webhook retries on
    with one_connection_engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
