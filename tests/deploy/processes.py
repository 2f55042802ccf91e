"""Long-running processes of the deployment test: started in their own session with their
output in a log file, stopped (or SIGKILLed, with everything they started) by the test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gone(pid: int) -> bool:
    """Whether a process no longer runs (exited, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Service:
    """One process (and its children) with stdout and stderr in ``log_file``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_file: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        with log_file.open("ab") as out:
            # A session of its own: the whole tree can be signalled at once, and a Ctrl-C in
            # the terminal reaches only the test.
            self.process = subprocess.Popen(
                self.argv,
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        """This process and every process it started, while they run."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> list[int]:
        """SIGKILL the process and everything it started, as an OOM kill or a lost node
        would; return the pids killed once all of them are gone."""
        victims = self.tree()
        pids = [proc.pid for proc in victims]
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not all(gone(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: processes {pids} survived SIGKILL")
            time.sleep(0.1)
        return pids

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        for proc in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def log_tail(self, lines: int = 80) -> str:
        if not self.log_file.exists():
            return ""
        text = self.log_file.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class CpuMeter:
    """CPU seconds (user + system) spent by a set of services' process trees, killed ones
    included: sampled every ``interval`` seconds in a thread, each process's last reading
    kept.  Each process counts its own time only (a parent's reaped children are read while
    they run, never twice), so a process loses what it spent after its last sample: the
    figure is a floor, short by at most ``interval`` per task process."""

    def __init__(self, services: Callable[[], Iterable[Service]], interval: float = 0.5) -> None:
        self._services = services
        self._interval = interval
        self._seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def start(self) -> CpuMeter:
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling; the CPU seconds counted."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample()
        return self.seconds

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def sample(self) -> None:
        for service in list(self._services()):
            for proc in service.tree():
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    self._seen[(proc.pid, proc.create_time())] = times.user + times.system

    @property
    def seconds(self) -> float:
        return sum(self._seen.values())
