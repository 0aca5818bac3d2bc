"""Compliance under randomized journeys: 10,000 seeded patient journeys against the product,
checked from the outside (tests/compliance: the TwiML served and the REST requests recorded).

    .venv/bin/python bench/compliance.py [--journeys 10000] [--batch 500] [--seed 1]

Each batch is a fresh world (six practices in five time zones, their coordinators, 4 days from
Friday 30 October 2026 across the end of daylight saving) with ``--batch`` journeys; the counts
add up. Prints journeys per second, each rule's violation count (target: 0 for every rule) and
the elapsed time. Uses BENCH_DATABASE_URL (default: database bench_compliance, created if
missing, schema reset) and BENCH_REDIS_URL (default: Redis db 14, flushed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402

from bench.database import fresh_database  # noqa: E402
from contact_center import clock, create_app, db  # noqa: E402
from contact_center.settings import Settings  # noqa: E402
from contact_center.simulator import TwilioSimulator  # noqa: E402
from tests.compliance import checker  # noqa: E402
from tests.compliance.simulation import report, run_simulation  # noqa: E402
from tests.conftest import flask_transport, truncate_all  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_compliance"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BASE_URL = "https://bench.example.test"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
START = datetime(2026, 10, 30, 4, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    fresh_database(DB_URL)
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    var = Path(tempfile.mkdtemp(prefix="bench-compliance-"))
    settings = Settings(
        env="test",
        database_url=DB_URL,
        redis_url=REDIS_URL,
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=BASE_URL,
        secret_key="bench",
        var_dir=var,
        recordings_dir=var / "recordings",
        sandbox=True,
    )
    app = create_app(settings)
    client = app.test_client()
    twilio = TwilioSimulator(
        BASE_URL, AUTH_TOKEN, settings.twilio_account_sid or "", flask_transport(client)
    )

    totals: Counter[str] = Counter({rule: 0 for rule in checker.RULES})
    done = 0
    started = time.perf_counter()
    batch_no = 0
    while done < args.journeys:
        size = min(args.batch, args.journeys - done)
        result = run_simulation(
            app.test_client,
            twilio,
            redis,
            seed=args.seed * 100_003 + batch_no,
            journeys=size,
            start=START,
            days=4,
        )
        totals.update(result.counts)
        done += size
        batch_no += 1
        elapsed = time.perf_counter() - started
        print(f"--- batch {batch_no}: {report(result)}")
        print(
            f"=== {done} journeys, {elapsed:.0f} s, {done / elapsed:.2f} journeys/s, "
            f"violations so far {sum(totals.values())}",
            flush=True,
        )
        clock.pin(None)
        truncate_all(db.get_engine())
        redis.flushdb()

    elapsed = time.perf_counter() - started
    print(f"\n{done} journeys in {elapsed:.1f} s: {done / elapsed:.2f} journeys/s")
    for rule in checker.RULES:
        print(f"  {rule:32s} {totals[rule]}")
    print(f"total violations: {sum(totals.values())} (target 0)")


if __name__ == "__main__":
    main()
