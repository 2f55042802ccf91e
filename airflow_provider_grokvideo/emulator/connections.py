"""TCP connections as the emulator sees them: counted, and closable from a request handler.

ASGI gives an application no way to close its connection without answering.  The server
(``server.py``) therefore installs a uvicorn protocol subclass that reports each connection's
transport here, keyed by the client's ``(host, port)``, which is also ``scope["client"]``.  A
request handler can then drop its own connection, with or without having answered, and the
count of connections opened proves (or disproves) a client's connection pooling.
"""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_provider_grokvideo.emulator.wire import Scope

#: How long a drop waits for the transport to close cleanly before aborting it.
CLOSE_GRACE_SECONDS = 2.0


class ConnectionDropped(Exception):
    """Raised when the emulator must drop a connection it cannot reach (in-process ASGI use).

    Under ``httpx.ASGITransport`` there is no socket: the exception reaches the client instead,
    which is the nearest thing to a closed connection.
    """


class ConnectionTracker:
    """Open connections by peer address, plus the number ever opened."""

    __slots__ = ("_open", "_waiters", "opened")

    def __init__(self) -> None:
        self._open: dict[Any, asyncio.BaseTransport] = {}
        self._waiters: dict[Any, asyncio.Future[None]] = {}
        self.opened = 0

    @property
    def open_now(self) -> int:
        return len(self._open)

    def connection_made(self, peer: Any, transport: asyncio.BaseTransport) -> None:
        self.opened += 1
        if peer is not None:
            self._open[peer] = transport

    def connection_lost(self, peer: Any) -> None:
        if peer is None:
            return
        self._open.pop(peer, None)
        waiter = self._waiters.pop(peer, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close_port(self, port: int) -> int:
        """Close every open connection accepted on the local ``port`` (an upstream's own port
        going down); return how many were closed."""
        closing = [
            transport
            for transport in self._open.values()
            if (transport.get_extra_info("sockname") or (None, None))[1] == port
        ]
        for transport in closing:
            transport.close()
        return len(closing)

    def reset_counters(self) -> None:
        self.opened = 0

    async def drop(self, scope: Scope) -> None:
        """Close the connection of this request, flushing what was already sent, and wait.

        Waiting until the server saw the connection go means uvicorn does not complain that
        the application returned without answering.
        """
        client = scope.get("client")
        peer = tuple(client) if client is not None else None
        transport = self._open.get(peer)
        if transport is None:
            raise ConnectionDropped("emulator fault: connection dropped without a response")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[peer] = waiter
        transport.close()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), CLOSE_GRACE_SECONDS)
        except asyncio.TimeoutError:
            abort = getattr(transport, "abort", None)
            if abort is not None:
                abort()
            try:
                await asyncio.wait_for(asyncio.shield(waiter), 0.5)
            except asyncio.TimeoutError:
                self._waiters.pop(peer, None)
