"""Routing decisions under load on PostgreSQL: assignment decisions per second, p99 latency,
and double assignments (must be 0), beside a baseline measured in the same run: the same burst
doing only one bare ``UPDATE ... FOR UPDATE SKIP LOCKED`` reservation per call.

    .venv/bin/python bench/routing.py [--calls 200] [--coordinators 20] [--rounds 3]

Each round: ``--calls`` calls of one practice reach the routing decision at once from as many
threads (the menu webhook's transaction: reserve the longest-idle coordinator or take a place
in line, committed), with ``--coordinators`` available; then a "flow" round where the
coordinators start in wrap-up and free up (pick up, hang up, available again) while the calls
arrive. A decision's latency is its whole transaction, commit included. Uses
BENCH_DATABASE_URL (default: database bench_routing, created if missing, schema reset) and
BENCH_REDIS_URL (default: Redis db 12, flushed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from statistics import quantiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench.database import fresh_database  # noqa: E402
from contact_center import clock, create_app  # noqa: E402
from contact_center.db import session_scope  # noqa: E402
from contact_center.settings import Settings  # noqa: E402
from contact_center.voice import Dial  # noqa: E402
from ivr.models import CallEvent  # noqa: E402
from routing import services as routing  # noqa: E402
from routing.models import Presence, PresenceState  # noqa: E402
from tests.conftest import truncate_all  # noqa: E402
from tests.routing.test_concurrency import arrive, setup_line  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_routing"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def timed(latencies: list[float], lock: threading.Lock, fn: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = fn()
    with lock:
        latencies.append(time.perf_counter() - started)
    return result


def burst(calls: int, coordinators: int) -> tuple[list[float], float, int]:
    """All calls at once, coordinators available: returns latencies, wall time, doubles."""
    _, users, sids = setup_line(PresenceState.AVAILABLE)
    latencies: list[float] = []
    lock = threading.Lock()
    rung: list[str] = []
    barrier = threading.Barrier(len(sids))

    def one(sid: str) -> None:
        barrier.wait()
        script = timed(latencies, lock, lambda: arrive(sid))
        for step in script.steps:  # type: ignore[attr-defined]
            if isinstance(step, Dial):
                with lock:
                    rung.append(step.clients[0].identity)

    threads = [threading.Thread(target=one, args=(sid,)) for sid in sids]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    with session_scope() as s:
        holders = Counter(
            s.scalars(
                select(Presence.call_sid).where(
                    Presence.user_id.in_(users), Presence.state == PresenceState.RESERVED
                )
            )
        )
    doubles = (len(rung) - len(set(rung))) + sum(n - 1 for n in holders.values() if n > 1)
    doubles += abs(len(rung) - min(coordinators, calls))
    return latencies, wall, doubles


BARE_RESERVE = text("""
    UPDATE presence SET state = 'reserved', call_sid = :sid
    WHERE user_id = (
        SELECT p.user_id FROM presence p JOIN memberships m ON m.user_id = p.user_id
        WHERE m.practice_id = :practice AND p.state = 'available'
        ORDER BY p.idle_since, p.user_id LIMIT 1 FOR UPDATE OF p SKIP LOCKED)
    RETURNING user_id
""")


def bare(calls: int) -> tuple[list[float], float, int]:
    """The baseline: the same burst, each thread doing only the floor of an atomic
    assignment on PostgreSQL (one UPDATE with SKIP LOCKED, committed), no queue, no timeline."""
    practice_id, users, sids = setup_line(PresenceState.AVAILABLE)
    latencies: list[float] = []
    lock = threading.Lock()
    got: list[int] = []

    def reserve(sid: str) -> None:
        with session_scope() as s:
            user = s.execute(BARE_RESERVE, {"sid": sid, "practice": practice_id}).scalar()
        if user is not None:
            with lock:
                got.append(user)

    threads = [
        threading.Thread(target=lambda sid=sid: timed(latencies, lock, lambda: reserve(sid)))
        for sid in sids
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, len(got) - len(set(got))


def flow(calls: int) -> tuple[list[float], float, int]:
    """Coordinators free up while calls arrive; every decision (arrival or freeing) timed."""
    practice_id, users, sids = setup_line(PresenceState.WRAP_UP)
    latencies: list[float] = []
    lock = threading.Lock()
    served: Counter[tuple[int, str]] = Counter()
    done = threading.Event()

    def caller(i: int, sid: str) -> None:
        time.sleep(i * 0.002)
        timed(latencies, lock, lambda: arrive(sid))

    def free(user_id: int) -> None:
        with session_scope() as s:
            routing.set_presence(s, user_id, PresenceState.AVAILABLE, clock.now())

    def coordinator(user_id: int) -> None:
        timed(latencies, lock, lambda: free(user_id))
        while not done.is_set():
            with session_scope() as s:
                held = s.get_one(Presence, user_id)
                sid = held.call_sid if held.state is PresenceState.RESERVED else None
                if sid is not None:
                    routing.mark_on_call(s, user_id, sid, clock.now())
                    routing.finish_call(s, user_id, sid, clock.now())
            if sid is None:
                time.sleep(0.02)
                continue
            with lock:
                served[(user_id, sid)] += 1
                if sum(served.values()) >= calls:
                    done.set()
            timed(latencies, lock, lambda: free(user_id))

    threads = [threading.Thread(target=caller, args=(i, sid)) for i, sid in enumerate(sids)]
    threads += [threading.Thread(target=coordinator, args=(u,)) for u in users]
    started = time.perf_counter()
    for t in threads:
        t.start()
    done.wait(timeout=120)
    done.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    with session_scope() as s:
        assigned = s.scalars(
            select(CallEvent.detail).where(
                CallEvent.practice_id == practice_id, CallEvent.kind == "assigned"
            )
        ).all()
    entries = Counter(d["entry_id"] for d in assigned)
    doubles = sum(n - 1 for n in entries.values() if n > 1)
    doubles += sum(n - 1 for n in served.values() if n > 1)
    doubles += calls - len(served)  # a caller never served counts as a failure too
    return latencies, wall, doubles


def report(name: str, latencies: list[float], wall: float, doubles: int) -> None:
    p = quantiles(latencies, n=100)
    print(
        f"{name:6s} decisions={len(latencies):4d} wall={wall:6.2f}s "
        f"rate={len(latencies) / wall:7.1f}/s p50={p[49] * 1000:6.1f}ms "
        f"p99={p[98] * 1000:7.1f}ms double_assignments={doubles}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--coordinators", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import tests.routing.test_concurrency as scenario

    scenario.CALLS, scenario.COORDINATORS = args.calls, args.coordinators
    fresh_database(DB_URL)
    Redis.from_url(REDIS_URL).flushdb()
    var = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    settings = Settings(
        env="test",
        database_url=DB_URL,
        redis_url=REDIS_URL,
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="bench-token",
        public_base_url="https://bench.example.test",
        secret_key="bench",
        var_dir=var,
        recordings_dir=var / "recordings",
        sandbox=True,
    )
    create_app(settings)
    from contact_center import db

    total_doubles = 0
    rates: dict[str, list[float]] = {"bare": [], "burst": []}
    for r in range(args.rounds):
        for name, run in (
            ("bare", lambda: bare(args.calls)),
            ("burst", lambda: burst(args.calls, args.coordinators)),
            ("flow", lambda: flow(args.calls)),
        ):
            latencies, wall, doubles = run()
            total_doubles += doubles
            report(f"{name}{r + 1}", latencies, wall, doubles)
            rates.setdefault(name, []).append(len(latencies) / wall)
            truncate_all(db.get_engine())
    ratio = sum(rates["burst"]) / sum(rates["bare"])
    print(f"burst decisions/s over the bare-UPDATE baseline: {ratio:.2f}")
    print(f"double assignments in total: {total_doubles}")
    sys.exit(1 if total_doubles else 0)


if __name__ == "__main__":
    main()
