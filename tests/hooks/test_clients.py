"""The connection's HTTP clients (``hooks/clients.py``), against the emulator over real sockets."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator.defaults import DEFAULT_API_KEY
from airflow_provider_grokvideo.hooks.clients import (
    Lease,
    SharedClient,
    new_shared_client,
    new_sync_client,
    parse_retry_after,
    request_timeout,
)
from airflow_provider_grokvideo.hooks.mountsea import MountseaVideoHook
from airflow_provider_grokvideo.hooks.settings import USER_AGENT, ConnectionSettings

#: Mountsea answers a refused key with 401 and an unknown task of a good key with another code.
STATUS = MountseaVideoHook.dialect.status_call("no-such-task")


def settings_of(emulator: Any, key: str = DEFAULT_API_KEY, timeout: float = 30.0) -> Any:
    return ConnectionSettings(emulator.base_url("mountsea"), key, timeout=timeout)


def test_the_sync_client_carries_the_key_user_agent_and_timeout(grokvideo_emulator: Any) -> None:
    with new_sync_client(settings_of(grokvideo_emulator, timeout=7)) as client:
        answer = client.request(STATUS.method, STATUS.path, params=STATUS.params)
        assert answer.status_code != 401  # the key went with the request
        assert answer.request.headers["User-Agent"] == USER_AGENT
        assert client.timeout == httpx.Timeout(7.0)
    with new_sync_client(settings_of(grokvideo_emulator, key="sk-not-this-one")) as client:
        assert client.get(STATUS.path, params=STATUS.params).status_code == 401


def test_connecting_waits_ten_seconds_at_most() -> None:
    assert request_timeout(60.0) == httpx.Timeout(60.0, connect=10.0)
    assert request_timeout(3.0) == httpx.Timeout(3.0)


async def test_the_pooled_client_rides_aiohttp_and_keeps_its_connections(
    grokvideo_emulator: Any,
) -> None:
    shared = new_shared_client(settings_of(grokvideo_emulator))
    assert type(shared.transport).__name__ == "AiohttpTransport" and shared.leases == 0
    try:
        first = await shared.client.get(STATUS.path, params=STATUS.params)
        opened = grokvideo_emulator.stats()["connections_opened"]
        second = await shared.client.get(STATUS.path, params=STATUS.params)
        assert first.status_code == second.status_code != 401
        assert grokvideo_emulator.stats()["connections_opened"] == opened  # kept alive
    finally:
        await shared.client.aclose()


class CountingPool:
    def __init__(self) -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        self.shared = SharedClient(httpx.AsyncClient(transport=transport), transport)
        self.released: list[SharedClient] = []

    def acquire_client(self) -> SharedClient:
        self.shared.leases += 1
        return self.shared

    async def release_client(self, shared: SharedClient) -> None:
        shared.leases -= 1
        self.released.append(shared)


async def test_a_lease_gives_its_client_back_once_even_when_its_holder_fails() -> None:
    pool = CountingPool()
    lease = Lease(pool)
    with pytest.raises(RuntimeError):
        async with lease as client:
            assert client is pool.shared.client and pool.shared.leases == 1
            raise RuntimeError("the wait failed")
    assert pool.released == [pool.shared] and pool.shared.leases == 0
    await lease.__aexit__(None, None, None)  # a second exit gives nothing back twice
    assert pool.released == [pool.shared]


def test_retry_after_as_an_http_date() -> None:
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    assert parse_retry_after(past) == 0.0  # already due: never a negative pause
    future = parse_retry_after(email.utils.formatdate(time.time() + 3600, usegmt=True))
    assert future is not None and future > 60
    assert parse_retry_after("-5") == 0.0
