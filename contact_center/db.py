"""Declarative base, engine and the one session factory every entry point uses.

Entry points (views, jobs, CLI commands) own the transaction: ``with session_scope() as s:``.
Services take the session as their first argument, may ``flush()``, and never commit.
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL and SQLite alike (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the product stores UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def str_enum(enum_cls: type[enum.Enum]) -> Any:
    """Enums stored as their values in a plain string column (portable, migration-friendly)."""
    from sqlalchemy import Enum

    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class _State:
    engine: Engine | None = None
    factory: sessionmaker[Session] | None = None


_state = _State()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with a busy timeout for web + worker."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    # Under gevent (the web server, see gunicorn.conf.py) one process serves any number of
    # requests at once, so the pool, not the worker count, bounds PostgreSQL connections:
    # requests beyond ``pool_size`` wait their turn instead of opening more.
    kwargs.setdefault("max_overflow", 0 if _gevent_patched() else 20)
    # Bounded connection age (backend memory, proxies that cut old connections).
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine)
    return engine


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("socket"))


# Not pool_pre_ping, which costs a round trip on every checkout (one in eight of the inbound-call
# webhook's). Pooled connections mostly die while unused (database restarted, idle connection
# dropped by the network), so those are pinged. One that dies in use raises a disconnect error,
# the pool then replaces every connection older than that, and a voice webhook retries once
# (contact_center.webhooks.voice_webhook) so the caller does not hear an apology for it.
PING_AFTER_IDLE_S = 5.0
POOL_RECYCLE_S = 1800
_IDLE_SINCE = "contact_center.idle_since"


def ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout when it sat unused for ``PING_AFTER_IDLE_S``."""

    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # fresh, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            # Like pool_pre_ping: the database probably restarted, so replace every pooled
            # connection older than now; the pool reconnects and checks out a fresh one.
            raise exc.InvalidatePoolError(str(error)) from error


def configure(url: str) -> Engine:
    """Create the process's engine and session factory (called by create_app and the worker)."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if _state.engine is not None and str(_state.engine.url) == url:
        return _state.engine
    engine = make_engine(url)
    bind(sessionmaker(bind=engine, expire_on_commit=False), engine)
    return engine


def bind(factory: sessionmaker[Session], engine: Engine | None = None) -> None:
    """Install a session factory (tests bind one joined to an outer transaction)."""
    _state.factory = factory
    if engine is not None:
        _state.engine = engine


def get_engine() -> Engine:
    if _state.engine is None:
        raise RuntimeError("database not configured: call contact_center.db.configure(url)")
    return _state.engine


def new_session() -> Session:
    if _state.factory is None:
        raise RuntimeError("database not configured: call contact_center.db.configure(url)")
    return _state.factory()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = new_session()
    try:
        with session.begin():
            yield session
    finally:
        session.close()
