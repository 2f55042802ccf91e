"""Fixtures of the emulator tests: one fast emulator for the session, and a small raw-HTTP
helper that speaks each upstream exactly as UPSTREAMS.md writes it (plain httpx, real sockets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, UPSTREAMS, Emulator

#: Job duration of the test emulator: short, so that flows finish fast.
JOB_SECONDS = 0.3

SUBMIT_PATHS = {
    "xcompute": "/v1/videos/generations",
    "mountsea": "/xai/videos",
    "xai": "/v1/videos/generations",
}
MINIMAL_BODIES: dict[str, dict[str, Any]] = {
    "xcompute": {"model": "grok-imagine-1.0-video-apimart", "prompt": "a dog on a beach"},
    "mountsea": {"model": "grok-imagine-video", "prompt": "a cat eating fish"},
    "xai": {"prompt": "a lighthouse at dusk"},
}
TERMINAL = {
    "xcompute": {"completed", "failed", "cancelled"},
    "mountsea": {"completed", "failed", "cancelled", "timeout"},
    "xai": {"done", "failed", "expired"},
}


class Api:
    """Raw HTTP calls to one emulator, per upstream, with the documented paths."""

    def __init__(self, emulator: Emulator, client: httpx.Client) -> None:
        self.emulator = emulator
        self.client = client

    def url(self, upstream: str, path: str) -> str:
        return self.emulator.base_url(upstream) + path

    def submit(
        self, upstream: str, body: dict[str, Any] | None = None, **overrides: Any
    ) -> httpx.Response:
        payload = dict(MINIMAL_BODIES[upstream] if body is None else body)
        payload.update(overrides)
        return self.client.post(self.url(upstream, SUBMIT_PATHS[upstream]), json=payload)

    def submit_id(self, upstream: str, body: dict[str, Any] | None = None, **kw: Any) -> str:
        response = self.submit(upstream, body, **kw)
        assert response.status_code == 200, response.text
        return self.job_id_of(upstream, response.json())

    def status(self, upstream: str, job_id: str) -> httpx.Response:
        if upstream == "xcompute":
            return self.client.get(self.url(upstream, f"/v1/tasks/{job_id}"))
        if upstream == "mountsea":
            return self.client.get(self.url(upstream, "/xai/tasks"), params={"taskId": job_id})
        return self.client.get(self.url(upstream, f"/v1/videos/{job_id}"))

    def poll(
        self, upstream: str, job_id: str, timeout: float = 10.0, interval: float = 0.03
    ) -> list[dict[str, Any]]:
        """Every status body until the job is terminal (the last one is terminal)."""
        bodies: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.status(upstream, job_id)
            assert response.status_code == 200, response.text
            body = response.json()
            bodies.append(body)
            if self.status_of(upstream, body) in TERMINAL[upstream]:
                return bodies
            time.sleep(interval)
        raise AssertionError(f"job {job_id} did not finish: {bodies[-3:]}")

    @staticmethod
    def job_id_of(upstream: str, body: dict[str, Any]) -> str:
        if upstream == "xcompute":
            data = body["data"]
            return str(data[0]["task_id"] if isinstance(data, list) else data["id"])
        if upstream == "mountsea":
            return str(body["taskId"])
        return str(body["request_id"])

    @staticmethod
    def status_of(upstream: str, body: dict[str, Any]) -> str:
        if upstream == "xcompute":
            return str(body.get("data", body)["status"])
        return str(body["status"])


@pytest.fixture(scope="session")
def fast_emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=JOB_SECONDS) as emulator:
        yield emulator


@pytest.fixture
def emu(fast_emulator: Emulator) -> Emulator:
    fast_emulator.reset()
    return fast_emulator


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=10) as c:
        yield c


@pytest.fixture
def api(emu: Emulator, client: httpx.Client) -> Api:
    return Api(emu, client)


@pytest.fixture
def media() -> Callable[[str], httpx.Response]:
    """GET a CDN URL with a fresh client and no Authorization header."""

    def get(url: str, **kw: Any) -> httpx.Response:
        return httpx.get(url, timeout=10, **kw)

    return get


@pytest.fixture(scope="module")
def own_ports_emulator() -> Iterator[Emulator]:
    """An emulator serving each upstream on a port of its own too (what ``refuse`` needs)."""
    with Emulator(job_seconds=JOB_SECONDS, upstream_ports=UPSTREAMS) as emulator:
        yield emulator


@pytest.fixture
def emu_ports(own_ports_emulator: Emulator) -> Emulator:
    own_ports_emulator.reset()
    return own_ports_emulator


@pytest.fixture
def api_ports(emu_ports: Emulator, client: httpx.Client) -> Api:
    return Api(emu_ports, client)
