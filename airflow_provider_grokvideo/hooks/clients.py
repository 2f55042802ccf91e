"""The HTTP clients of a connection: the key sent to the API's own origin only, the sync client,
the pooled async client (over aiohttp's transport) and its lease, and ``Retry-After``.

Which client is shared with whom is the runtime's business (``runtime.py``); this module only
says how one is built and held.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from airflow_provider_grokvideo.hooks.settings import USER_AGENT, ConnectionSettings

#: Connections one pooled async client keeps open to the upstream at most.
ASYNC_POOL_CONNECTIONS = 256
#: Seconds an idle pooled connection is kept.  httpx's default (5 s) is shorter than the gaps
#: between a trigger's polls, so a triggerer would keep re-opening (and TLS-handshaking) the
#: connections its waits need; common servers keep idle connections 60-75 s, and a GET whose
#: kept-alive connection the server has just closed is retried once by aiohttp.
ASYNC_KEEPALIVE_SECONDS = 60.0


class BearerAuth(httpx.Auth):
    """Adds the API key only to requests for the API's own origin, never to another host."""

    def __init__(self, api_key: str, origin: tuple[str, str, int | None]) -> None:
        self._header = f"Bearer {api_key}"
        self._origin = origin

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = request.url
        if (url.scheme, url.host, url.port) == self._origin:
            request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


def request_timeout(seconds: float) -> httpx.Timeout:
    """The connection's ``timeout`` for each phase of a request, connecting within 10 s at most."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def new_sync_client(settings: ConnectionSettings) -> httpx.Client:
    """The connection's sync client (submits, pokes), authenticated for the API host only."""
    return httpx.Client(
        base_url=settings.base_url,
        auth=BearerAuth(settings.api_key, settings.origin),
        timeout=request_timeout(settings.timeout),
        headers={"User-Agent": USER_AGENT},
    )


@dataclass
class SharedClient:
    """A pooled async client and how many hold it (closed when the last lets go)."""

    client: httpx.AsyncClient
    #: The client's own transport: the hot status read goes straight to it (see the hook's
    #: ``_aread``).
    transport: httpx.AsyncBaseTransport
    leases: int = 0


def new_shared_client(settings: ConnectionSettings) -> SharedClient:
    """A pooled async client over aiohttp's transport (several times cheaper per request than
    httpx's own, and steady with a thousand waits at once), authenticated for the API host."""
    # Imported here: httpx_aiohttp costs ~115 ms and DAG files never need it.
    from httpx_aiohttp import AiohttpTransport

    transport = AiohttpTransport(
        limits=httpx.Limits(
            max_connections=ASYNC_POOL_CONNECTIONS, keepalive_expiry=ASYNC_KEEPALIVE_SECONDS
        )
    )
    client = httpx.AsyncClient(
        base_url=settings.base_url,
        auth=BearerAuth(settings.api_key, settings.origin),
        timeout=request_timeout(settings.timeout),
        headers={"User-Agent": USER_AGENT},
        transport=transport,
    )
    return SharedClient(client, transport)


class ClientPool(Protocol):
    """Where a :class:`Lease` takes its client from and gives it back."""

    def acquire_client(self) -> SharedClient: ...

    async def release_client(self, shared: SharedClient) -> None: ...


class Lease(contextlib.AbstractAsyncContextManager[httpx.AsyncClient]):
    """One holder's share of a pooled client (the hook's ``async_session()``).

    A class rather than ``@asynccontextmanager``: a busy triggerer holds one per waiting trigger,
    and a generator-based one is six objects for the garbage collector to walk, this is one.
    """

    def __init__(self, pool: ClientPool) -> None:
        self._pool = pool
        self._shared: SharedClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        self._shared = self._pool.acquire_client()
        return self._shared.client

    async def __aexit__(self, *exc_info: object) -> None:
        if self._shared is not None:
            shared, self._shared = self._shared, None
            await self._pool.release_client(shared)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


__all__ = [
    "ASYNC_KEEPALIVE_SECONDS",
    "ASYNC_POOL_CONNECTIONS",
    "BearerAuth",
    "ClientPool",
    "Lease",
    "SharedClient",
    "new_shared_client",
    "new_sync_client",
    "parse_retry_after",
    "request_timeout",
]
