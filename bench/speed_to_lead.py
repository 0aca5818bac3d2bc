"""Speed-to-lead: a burst of web-form leads against gunicorn + RQ workers on PostgreSQL/Redis.

    .venv/bin/python bench/speed_to_lead.py [--leads 1000] [--coordinators 10] [--rq-workers 2]

Posts ``--leads`` leads (SMS consent given) as fast as ``--concurrency`` clients can to
``POST /api/leads``; ``--rq-workers`` non-forking RQ workers (``--forking`` for RQ's default)
serve the ``realtime`` queue, as the Procfile's ``worker`` does. A "Twilio" thread plays every
coordinator leg the dialer places: the coordinator answers, the patient answers, they talk
``--talk-seconds`` (default 120: the first leads take every coordinator for the rest of the
run, as in a real burst); with 0 they hang up at once, coordinators come straight back, and
every lead is dialed during the run (the dialer's throughput, competing with the texts).

Prints p50/p99 from lead accepted (the lead row's time) to the SMS request issued and to the
coordinator's leg dialed (the sandbox's recorded REST requests), and leads per second accepted,
each against a baseline measured in the same run (bench/bare_leads.py). Uses
BENCH_DATABASE_URL (default: database test_speed_to_lead, created if missing, schema reset) and
BENCH_REDIS_URL (default: Redis db 13, flushed).
Targets (issue 4): p99 to SMS under 2 s; p50 to dial under 5 s while a coordinator is free.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.database import fresh_database  # noqa: E402
from bench.voice_webhook import free_port  # noqa: E402
from contact_center.twilio import sign  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test_speed_to_lead"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
AUTH_TOKEN = "bench-sandbox-token"
NUMBER = "+14155550188"
# Patients are numbered in a region where it is daytime now (quiet hours would defer calls).
REGIONS = (
    ("+1212", "America/New_York"),
    ("+1312", "America/Chicago"),
    ("+1310", "America/Los_Angeles"),
    ("+1808", "Pacific/Honolulu"),
    ("+4420", "Europe/London"),
    ("+6129", "Australia/Sydney"),
    ("+8131", "Asia/Tokyo"),
)


def daytime_prefix() -> str:
    for prefix, zone in REGIONS:
        if 9 <= datetime.now(ZoneInfo(zone)).hour < 19:
            return prefix
    raise RuntimeError("no region in daytime")


def patient_number(prefix: str, n: int) -> str:
    return {
        "+4420": f"+44207946{n % 10000:04d}",
        "+6129": f"+61291{n:06d}",
        "+8131": f"+81312{n:06d}",
    }.get(prefix, f"{prefix}200{n % 10000:04d}")


def prepare(env: dict[str, str], coordinators: int) -> str:
    fresh_database(DB_URL)
    Redis.from_url(REDIS_URL).flushdb()
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi"]
    steps = [
        [
            "practice",
            "create",
            "--name",
            "Speed Aesthetics",
            "--number",
            NUMBER,
            "--timezone",
            "America/Los_Angeles",
            "--hours",
            "mon-sun 00:00-24:00",
        ]
    ]
    for i in range(coordinators):
        steps.append(
            [
                "coordinator",
                "create",
                "--practice",
                "Speed Aesthetics",
                "--name",
                f"C{i}",
                "--identity",
                f"c{i}",
            ]
        )
        steps.append(["coordinator", "presence", f"c{i}", "available"])
    # A measured burst from one address and key: lift the lead form's fraud limits, and allow
    # the countries whose daytime the patients' numbers come from.
    steps.append(
        [
            "practice",
            "lead-guard",
            "--practice",
            "Speed Aesthetics",
            "--countries",
            "US,CA,GB,AU,JP",
            "--per-key",
            "1000000/minute",
            "--per-address",
            "1000000/minute",
        ]
    )
    for args in steps:
        subprocess.run(flask + args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(
        flask + ["practice", "api-key", "--practice", "Speed Aesthetics"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def post_form(base: str, path: str, form: dict[str, str]) -> str:
    url = base + path if path.startswith("/") else path
    data = urlencode(form).encode()
    req = urllib.request.Request(
        url,
        data=data,
        headers={
            "X-Twilio-Signature": sign(AUTH_TOKEN, url, form),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        return str(response.read().decode())


def play_leg(
    base: str, form: dict[str, str], call_sid: str, talk_s: float, stop: threading.Event
) -> None:
    """The coordinator answers, the patient answers, they talk ``talk_s`` seconds (the run may
    end first), "spoke with the patient", hang up."""
    common = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": form["From"],
        "To": form["To"],
        "Direction": "outbound-api",
        "CallStatus": "in-progress",
    }
    body = post_form(base, form["Url"], common)
    dial = ET.fromstring(body).find("Dial")
    if stop.wait(talk_s):
        return  # the run is over while they talk
    if dial is not None and dial.get("action"):
        body = post_form(
            base,
            dial.get("action", ""),
            {**common, "DialCallStatus": "completed", "DialCallSid": "CA" + "1" * 32},
        )
        gather = ET.fromstring(body).find("Gather")
        if gather is not None:
            post_form(base, gather.get("action", ""), {**common, "Digits": "1"})
    post_form(
        base, form["StatusCallback"], {**common, "CallStatus": "completed", "CallDuration": "0"}
    )


def twilio_side(base: str, stop: threading.Event, pool: ThreadPoolExecutor, talk_s: float) -> None:
    engine = create_engine(DB_URL)
    seen = 0
    while not stop.is_set():
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, form, response_sid FROM twilio_requests WHERE id > :i AND "
                    "url LIKE '%/Calls.json' ORDER BY id"
                ),
                {"i": seen},
            ).all()
        for row_id, form, sid in rows:
            seen = row_id
            pool.submit(play_leg, base, form, sid, talk_s, stop)
        time.sleep(0.05)
    engine.dispose()


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return quantiles(values, n=100, method="inclusive")[q - 1]


# Seconds from each lead to its first text request and to its first coordinator leg.
TO_TEXT = (
    "SELECT extract(epoch FROM min(t.created_at) - l.created_at) FROM leads l "
    "JOIN twilio_requests t ON t.url LIKE '%/Messages.json' AND t.form->>'To' = l.phone "
    "GROUP BY l.id"
)
TO_DIAL = (
    "SELECT extract(epoch FROM min(t.created_at) - l.created_at) FROM leads l "
    "JOIN callback_attempts a ON a.task_id = l.callback_task_id "
    "JOIN twilio_requests t ON t.url LIKE '%/Calls.json' "
    "AND t.form->>'Url' LIKE '%attempt=' || a.id || '&%' GROUP BY l.id ORDER BY l.id"
)


def wait_until_up(base: str) -> None:
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not come up")


def gunicorn(app: str, port: int, web_workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(web_workers),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "error",
            app,
        ],
        cwd=ROOT,
        env=env,
    )


def background(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=20)


def post_burst(base: str, key: str, leads: int, concurrency: int) -> tuple[list[int], float]:
    """POST ``leads`` leads as fast as ``concurrency`` clients can: (statuses, seconds)."""
    prefix = daytime_prefix()

    def post(n: int) -> int:
        body = json.dumps(
            {
                "name": f"Lead {n}",
                "phone": patient_number(prefix, n),
                "source": "bench",
                "sms_consent": True,
                "consent_wording": "I agree to texts.",
            }
        ).encode()
        req = urllib.request.Request(
            base + "/api/leads",
            data=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Idempotency-Key": f"bench-{n}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            return int(response.status)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as clients:
        statuses = list(clients.map(post, range(leads)))
    return statuses, time.monotonic() - started


def wait_for(query: str, wants: tuple[int, ...], seconds: int) -> None:
    """Poll until each count ``query`` returns reaches its ``wants`` (or time is up)."""
    engine = create_engine(DB_URL)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                counts = conn.execute(text(query)).one()
                if all(n >= w for n, w in zip(counts, wants, strict=True)):
                    return
            time.sleep(0.5)
    finally:
        engine.dispose()


@dataclass
class Burst:
    accepted: int
    seconds: float
    to_text: list[float]
    to_dial: list[float]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def run_baseline(args: argparse.Namespace) -> Burst:
    """The same burst against bench/bare_leads.py: one commit, one RQ job, one row."""
    from bench import bare_leads

    fresh_database(DB_URL)
    Redis.from_url(REDIS_URL).flushdb()
    bare_leads.create_tables(DB_URL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BARE_DATABASE_URL": DB_URL, "BARE_REDIS_URL": REDIS_URL}
    procs = [gunicorn("bench.bare_leads:app", port, args.web_workers, env)]
    procs += [
        background([sys.executable, "bench/bare_leads.py", "worker"], env)
        for _ in range(args.rq_workers)
    ]
    try:
        wait_until_up(base)
        statuses, seconds = post_burst(base, "none", args.leads, args.concurrency)
        wait_for("SELECT count(*) FROM bare_requests", (args.leads,), args.wait)
        engine = create_engine(DB_URL)
        with engine.connect() as conn:
            delays = bare_leads.results(conn)
        engine.dispose()
    finally:
        stop_all(procs)
    return Burst(sum(1 for s in statuses if s == 201), seconds, delays, delays)


def run_product(args: argparse.Namespace) -> Burst:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "sandbox_auth_token").write_text(AUTH_TOKEN)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": DB_URL,
            "REDIS_URL": REDIS_URL,
            "PUBLIC_BASE_URL": base,
            "SECRET_KEY": "bench",
            "VAR_DIR": tmp,
        }
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):  # sandbox: nothing leaves
            env.pop(name, None)
        key = prepare(env, args.coordinators)
        procs = [gunicorn("wsgi:app", port, args.web_workers, env)]
        for _ in range(args.rq_workers):
            cmd = [
                sys.executable,
                "-m",
                "contact_center.worker",
                "realtime",
                "--reconcile-every",
                "5",
            ]
            cmd += [] if args.forking else ["--simple"]
            procs.append(background(cmd, env))
        try:
            wait_until_up(base)
            stop = threading.Event()
            legs = ThreadPoolExecutor(max_workers=args.coordinators)
            player = threading.Thread(
                target=twilio_side, args=(base, stop, legs, args.talk_seconds), daemon=True
            )
            player.start()
            statuses, seconds = post_burst(base, key, args.leads, args.concurrency)
            # Every text sent, and every lead dialed (or, with calls that last, the first ones).
            dials = args.leads if args.talk_seconds == 0 else min(args.leads, args.coordinators)
            wait_for(
                "SELECT (SELECT count(*) FROM twilio_requests WHERE url LIKE "
                "'%/Messages.json'), (SELECT count(DISTINCT task_id) FROM "
                "callback_attempts WHERE dialed_at IS NOT NULL)",
                (args.leads, dials),
                args.wait,
            )
            stop.set()
            legs.shutdown(wait=True)
            engine = create_engine(DB_URL)
            with engine.connect() as conn:
                sms = [float(r[0]) for r in conn.execute(text(TO_TEXT))]
                dial = [float(r[0]) for r in conn.execute(text(TO_DIAL))]
            engine.dispose()
        finally:
            stop_all(procs)
    return Burst(sum(1 for s in statuses if s == 201), seconds, sms, dial)


def main() -> int:
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still stop the servers (finally)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--coordinators", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--forking", action="store_true", help="RQ's forking Worker")
    parser.add_argument(
        "--talk-seconds",
        type=float,
        default=120.0,
        help="how long each callback conversation lasts; 0 hangs up at once, so coordinators "
        "come straight back and every lead is dialed during the run (dialer throughput)",
    )
    parser.add_argument("--wait", type=int, default=300, help="seconds to wait for the dialer")
    args = parser.parse_args()
    bare = run_baseline(args)
    product = run_product(args)
    sms, dial = product.to_text, product.to_dial
    first = dial[: args.coordinators]
    base50, base99 = pct(bare.to_text, 50), pct(bare.to_text, 99)
    kind = "forking Worker" if args.forking else "SimpleWorker"
    print(
        f"speed-to-lead: {args.leads} leads, {args.coordinators} coordinators, "
        f"{args.rq_workers} RQ {kind}s, gunicorn {args.web_workers}x4 threads, "
        f"calls of {args.talk_seconds:.0f} s, "
        f"{os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"baseline (bench/bare_leads.py: one commit, one RQ job, one row), same run: "
        f"{bare.accepted}/{args.leads} in {bare.seconds:.1f} s: {bare.rate:.0f} leads/s; "
        f"lead -> job's row p50 {base50:.2f} s, p99 {base99:.2f} s"
    )
    print(
        f"accepted {product.accepted}/{args.leads} in {product.seconds:.1f} s: "
        f"{product.rate:.0f} leads/s (ratio to baseline {product.rate / bare.rate:.2f})"
    )
    print(
        f"lead -> SMS request    ({len(sms)} texts): p50 {pct(sms, 50):.2f} s, "
        f"p99 {pct(sms, 99):.2f} s (baseline p99 x{pct(sms, 99) / base99:.1f}; "
        f"target p99 < 2 s: {'met' if pct(sms, 99) < 2 else 'missed'})"
    )
    if args.talk_seconds == 0:
        print(
            f"lead -> coordinator leg dialed ({len(dial)} leads): p50 {pct(dial, 50):.2f} s, "
            f"p99 {pct(dial, 99):.2f} s"
        )
    print(
        f"  first {len(first)} leads (a coordinator free on arrival): p50 {pct(first, 50):.2f}"
        f" s, max {max(first, default=float('nan')):.2f} s (baseline p50 "
        f"x{pct(first, 50) / base50:.1f}; target p50 < 5 s: "
        f"{'met' if first and pct(first, 50) < 5 else 'missed'})"
    )
    return 0 if product.accepted == bare.accepted == args.leads else 1


if __name__ == "__main__":
    sys.exit(main())
