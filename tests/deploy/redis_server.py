"""A throw-away Redis server for the distributed deployment test (the Celery broker, and the
store of the shared request budget): Debian's ``redis-server`` on a free port of 127.0.0.1,
its data in a temporary folder, nothing saved to disk, stopped afterwards.

``make test-deploy`` installs the ``redis-server`` package when it is missing
(``scripts/ensure_redis.py``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from deploy.processes import free_port

INSTALL_HINT = (
    "the distributed deployment test needs Debian's redis-server: "
    "`apt-get update && apt-get install -y redis-server` (make test-deploy does it)"
)


class RedisServer:
    """One ``redis-server`` process (start with :meth:`start`)."""

    def __init__(self) -> None:
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 30.0) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        self.root = Path(tempfile.mkdtemp(prefix="grokvideo-deploy-redis-"))
        self.port = free_port()
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.root),
                "--save",
                "",  # a broker of a test run: nothing to keep
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self.log_tail()}")
            time.sleep(0.1)
        return self

    def ping(self) -> bool:
        """A ``PING`` in the Redis protocol over a plain socket (no client library here)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if self.root is None or not (self.root / "redis.log").exists():
            return ""
        return "\n".join(
            (self.root / "redis.log").read_text(errors="replace").splitlines()[-lines:]
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
