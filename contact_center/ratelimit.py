"""Rate limits on Redis through Flask-Limiter: one extension per app, explicit checks.

Flask-Limiter owns the storage (the deployment's Redis; memory for the embedded demo Redis) and
the strategy (moving window). Its route decorators run before a view knows the API key's
practice or the lead's destination, so the views ask here at the point they know them:
``hit`` counts an attempt and says whether it is over a limit, ``over`` only looks (a login
counts only failures). If Redis is away the limits fall back to this process's memory, logged:
a lost Redis must not turn every lead or login away.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from redis.exceptions import RedisError

from contact_center.settings import EMBEDDED_REDIS, Settings

logger = logging.getLogger(__name__)

EXTENSION = "contact_center.limiter"
KEY_PREFIX = "cc-limit"


@dataclass(frozen=True)
class Exceeded:
    """A limit that is used up: which one, and when the next attempt may come."""

    scope: str
    limit: str
    retry_after_s: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))


def storage_uri(settings: Settings) -> str:
    """The deployment's Redis for limits (``memory://`` with the embedded demo Redis, which is
    started lazily and serves one machine anyway)."""
    url = settings.redis_url
    if url == EMBEDDED_REDIS:
        return "memory://"
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def install(app: Flask, settings: Settings) -> Limiter:
    """A Flask-Limiter extension for this app (no I/O now: the storage connects on first use)."""
    limiter = Limiter(
        key_func=lambda: "",  # every check names its own key
        storage_uri=storage_uri(settings),
        strategy="moving-window",
        key_prefix=KEY_PREFIX,
        # Only explicit checks: no default, application or meta limits on any route.
        enabled=True,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION] = _Checks(limiter)
    return limiter


class _Checks:
    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.fallback: RateLimiter = MovingWindowRateLimiter(MemoryStorage())

    def strategy(self) -> RateLimiter:
        return self.limiter.limiter

    def run(self, scope: str, value: str, key: str, *, count: bool) -> Exceeded | None:
        items = parse_many(value)
        try:
            return self._run(self.strategy(), scope, items, key, count=count)
        except (RedisError, StorageError, OSError) as exc:
            logger.warning("rate-limit storage unavailable (%s); %s limited in memory", exc, scope)
            return self._run(self.fallback, scope, items, key, count=count)

    @staticmethod
    def _run(
        strategy: RateLimiter, scope: str, items: list[RateLimitItem], key: str, *, count: bool
    ) -> Exceeded | None:
        for item in sorted(items, key=lambda i: i.get_expiry()):
            ok = strategy.hit(item, KEY_PREFIX, scope, key) if count else True
            if ok and not count:
                ok = strategy.test(item, KEY_PREFIX, scope, key)
            if not ok:
                reset_at, _ = strategy.get_window_stats(item, KEY_PREFIX, scope, key)
                wait = max(1, math.ceil(reset_at - time.time()))
                return Exceeded(scope, str(item), wait)
        return None


def _checks() -> _Checks:
    checks: _Checks = current_app.extensions[EXTENSION]
    return checks


def hit(scope: str, value: str, key: str) -> Exceeded | None:
    """Count one attempt of ``key`` against the limits ``value`` (e.g. "20/minute;200/day");
    the first limit it exceeds, or None."""
    return _checks().run(scope, value, key, count=True)


def over(scope: str, value: str, key: str) -> Exceeded | None:
    """The first of the limits ``value`` that ``key`` has used up, without counting anything."""
    return _checks().run(scope, value, key, count=False)
