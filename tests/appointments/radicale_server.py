"""A real CalDAV server for the tests: Radicale in a subprocess, htpasswd auth, storage in tmp."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from caldav.davclient import DAVClient

USER, PASSWORD = "glow", "s3cret-calendar"
CALENDAR = "appointments"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Radicale:
    """One Radicale process; ``stop()`` and ``start()`` again on the same port and storage
    play a calendar server that goes down and comes back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        (root / "users").write_text(f"{USER}:{PASSWORD}\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def calendar_path(self) -> str:
        return f"/{USER}/{CALENDAR}/"

    def start(self) -> None:
        args = [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{self.port}",
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(self.root / "users"),
            "--auth-htpasswd-encryption",
            "plain",
            "--storage-filesystem-folder",
            str(self.root / "collections"),
            "--logging-level",
            "error",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError as error:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        self.process.stderr.read().decode() if self.process.stderr else ""
                    ) from error
                time.sleep(0.05)
        raise RuntimeError("radicale did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None

    def client(self) -> DAVClient:
        return DAVClient(self.url, username=USER, password=PASSWORD)

    def calendar(self) -> Any:
        return self.client().calendar(url=self.url.rstrip("/") + self.calendar_path)

    def make_calendar(self) -> None:
        self.client().principal().make_calendar(name="Appointments", cal_id=CALENDAR)


@contextmanager
def running(root: Path) -> Iterator[Radicale]:
    server = Radicale(root)
    server.start()
    try:
        server.make_calendar()
        yield server
    finally:
        server.stop()
