"""The time entry points pass to services. Tests and demos may pin it; nothing else should."""

from __future__ import annotations

from datetime import UTC, datetime

_pinned: list[datetime] = []


def now() -> datetime:
    return _pinned[0] if _pinned else datetime.now(UTC)


def pin(at: datetime | None) -> None:
    """Pin the clock at ``at`` (UTC-aware); ``None`` releases it."""
    if at is not None and at.tzinfo is None:
        raise ValueError("pin() takes an aware datetime")
    _pinned[:] = [at] if at is not None else []
