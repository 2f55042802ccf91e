"""The emulator as its command line starts it (``python -m airflow_provider_grokvideo.emulator``),
in a process of its own, for the tests of the options that only the command line reads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from repo_paths import REPO

#: A child Python that imports the checkout's package, whatever the working directory.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


@contextmanager
def running_emulator(*options: str) -> Iterator[IO[str]]:
    """The emulator started on a free port with ``options``: its standard output, which the test
    reads (the banner first).  Stopped with SIGTERM, which must end it cleanly (exit status 0)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_grokvideo.emulator", "--port", "0", *options],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
