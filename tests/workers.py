"""A real worker process (``python -m contact_center.worker``) on the test database and Redis,
stopped at chosen points by locks the test holds, and killed there as a host going down would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from tests.conftest import BASE_URL, ROOT, TEST_DATABASE_URL, TEST_REDIS_URL

BLOCKED_TIMEOUT_S = 30.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class WorkerProcess:
    """``python -m contact_center.worker`` in its own process group, as a deployment runs it."""

    def __init__(self, var_dir: Path, *args: str) -> None:
        env = {
            **os.environ,
            "APP_ENV": "development",
            "DATABASE_URL": TEST_DATABASE_URL,
            "REDIS_URL": TEST_REDIS_URL,
            "PUBLIC_BASE_URL": BASE_URL,
            "VAR_DIR": str(var_dir),
        }
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            env.pop(name, None)  # the sandbox: REST requests are recorded, never sent
        self.log = var_dir / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "contact_center.worker", "realtime", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the worker and the work horse it forked for the job (RQ puts the horse in
        a process group of its own), as the kernel's OOM killer or a host going down would."""
        doomed = descendants(self.process.pid)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in doomed:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """A warm shutdown (SIGTERM), then a kill if it does not come."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def worker(var_dir: Path, *args: str) -> Iterator[WorkerProcess]:
    process = WorkerProcess(var_dir, *args)
    try:
        yield process
    finally:
        process.stop()


def wait_for(
    what: str, condition: Callable[[], bool], process: WorkerProcess, limit: float
) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if process.process.poll() is not None:
            raise AssertionError(f"worker exited while waiting for {what}:\n{process.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{process.output()}")
        time.sleep(0.05)


def blocked_on(engine: Engine, fragment: str) -> Callable[[], bool]:
    """True once another backend waits for a lock while running a statement with ``fragment``."""

    def check() -> bool:
        with engine.connect() as conn:
            waiting = conn.scalars(
                text(
                    "SELECT query FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid() "
                    # Only this test database: other suites on the same server block too.
                    "AND datname = current_database()"
                )
            ).all()
        return any(fragment in query for query in waiting)

    return check


def hold(engine: Engine, *statements: str, **params: object) -> Connection:
    """A connection holding the locks ``statements`` take until it is rolled back."""
    conn = engine.connect()
    conn.begin()
    for statement in statements:
        conn.execute(text(statement), params)
    return conn


def outbox_lock(engine: Engine) -> Connection:
    return hold(engine, "LOCK TABLE twilio_requests IN SHARE MODE")


@dataclass(frozen=True)
class Stop:
    """A point to stop the worker at: a lock it needs next, and the statement it then waits in."""

    what: str
    lock: Callable[[Engine], Connection]
    blocked: str


def run_and_kill_a_worker(engine: Engine, var_dir: Path, stops: list[Stop]) -> None:
    """Run a worker on the queued jobs, stop it at each of ``stops`` in turn and SIGKILL it at
    the last. The next lock is held before the previous one is let go, so the worker cannot
    run past a stop."""
    locks = [stops[0].lock(engine)]
    try:
        with worker(var_dir, "--reconcile-every", "0") as first:
            for n, stop in enumerate(stops):
                if n:
                    locks.append(stop.lock(engine))
                    locks.pop(0).rollback()
                wait_for(
                    f"{stop.what} to block",
                    blocked_on(engine, stop.blocked),
                    first,
                    BLOCKED_TIMEOUT_S,
                )
            first.kill()
    finally:
        for conn in locks:
            conn.rollback()
            conn.close()
