"""Declarative base, engine and the one session factory every entry point uses.

Entry points (views, jobs, CLI commands) own the transaction: ``with session_scope() as s:``.
Services take the session as their first argument, may ``flush()``, and never commit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
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
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


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
