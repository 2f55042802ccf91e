"""Hooks of the tests, pointed at the bundled emulator over real sockets: one way to build a
hook on a connection of its own, to submit through a default connection, and to wait for a
job's end, for every test file that needs one."""

from __future__ import annotations

import json
import time
from typing import Any

from airflow.sdk import Connection

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks import get_video_hook, hook_class_for
from airflow_provider_grokvideo.hooks.base import GrokVideoHook
from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.models import VideoGeneration

#: Retries of the tests: the real policy, with waits short enough for the suite.
FAST = RetryPolicy(attempts=4, initial_wait=0.05, max_wait=3.0)


def make_hook(
    emulator: Emulator,
    upstream: str = "xai",
    *,
    key: str | None = None,
    retry: RetryPolicy = FAST,
    conn_id: str | None = None,
    **extra: Any,
) -> Any:
    """The ``upstream``'s hook on a connection (``test_<upstream>``) to ``emulator``, with the
    emulator's key unless ``key`` is given, and ``extra`` as the connection's extras.  Typed
    ``Any``: the hook of the upstream's own class (``XAIVideoHook`` has the batch calls)."""
    conn = Connection(
        conn_id=conn_id or f"test_{upstream}",
        conn_type=f"grokvideo_{upstream}",
        host=emulator.base_url(upstream),
        password=emulator.api_key if key is None else key,
        extra=json.dumps(extra) if extra else None,
    )
    return hook_class_for(conn.conn_type)(conn.conn_id, connection=conn, retry=retry)


def submit(upstream: str, prompt: str = "a lighthouse in a storm") -> str:
    """Submit ``prompt`` through the default connection of ``upstream`` (the ``emulator``
    fixture sets them); the generation's id."""
    return get_video_hook(f"grokvideo_{upstream}_default").submit_video(prompt)


def wait_until_done(
    hook: GrokVideoHook, generation_id: str, limit: float = 20.0, every: float = 0.1
) -> VideoGeneration:
    """Poll until the job has ended, or ``limit`` seconds have passed: its last status."""
    deadline = time.monotonic() + limit
    while True:
        generation = hook.get_video(generation_id)
        if generation.is_terminal or time.monotonic() > deadline:
            return generation
        time.sleep(every)


def submissions(emulator: Emulator) -> dict[str, int]:
    """Jobs each upstream of ``emulator`` accepted since its last reset."""
    return {
        name: upstream["submissions"] for name, upstream in emulator.stats()["upstreams"].items()
    }
