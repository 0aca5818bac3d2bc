"""The benchmarks' database: created when missing, then reset and migrated from nothing."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.conftest import reset_schema


def fresh_database(url: str) -> None:
    """Create the PostgreSQL database named by ``url`` if needed; drop and re-migrate its schema."""
    base, name = url.rsplit("/", 1)
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    reset_schema(url)
