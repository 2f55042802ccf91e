"""Upstreams served on a port of their own, so that one of them can refuse connections.

Every upstream is served on the emulator's one port under its path prefix; refusing TCP
connections there would take the other two down with it.  An upstream given a port of its own
(``Emulator(upstream_ports=("xai",))``, ``--upstream-port xai``) is served there by the same
application, under the same prefix, and a ``"refuse"`` outage (``outages.py``) closes that
port's listening socket: a client's connect fails, as when a service is down.  When the outage
ends the socket is bound again on the same port (``SO_REUSEADDR``), listening at once: the
connections the kernel queues meanwhile are served as soon as the loop accepts them.

No uvicorn here: the server (``server.py``) hands each upstream's listening server over, with
the coroutine that serves a new socket the way uvicorn serves its own.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Listen backlog: room for thousands of clients connecting at once.
DEFAULT_BACKLOG = 8192

Serve = Callable[[socket.socket], Awaitable[asyncio.AbstractServer]]


def bind_socket(host: str, port: int, backlog: int = DEFAULT_BACKLOG) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free port)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


@dataclass
class _Listener:
    host: str
    port: int
    backlog: int
    server: asyncio.AbstractServer | None = None
    serve: Serve | None = None
    #: The socket being handed to a new server (an outage's end), until it serves.
    opening: asyncio.Task[asyncio.AbstractServer] | None = None
    closed: bool = False


class UpstreamListeners:
    """The upstreams with a port of their own, each open or closed (refusing connections)."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: dict[str, _Listener] = {}

    def __contains__(self, upstream: object) -> bool:
        return upstream in self._listeners

    def add(self, upstream: str, sock: socket.socket, backlog: int = DEFAULT_BACKLOG) -> None:
        """Say that ``upstream`` is served on ``sock`` (bound, not yet served)."""
        host, port = sock.getsockname()[:2]
        self._listeners[upstream] = _Listener(host, port, backlog)

    def attach(self, upstream: str, server: asyncio.AbstractServer, serve: Serve) -> None:
        """Hand over the server listening for ``upstream`` and how to serve a new socket."""
        listener = self._listeners[upstream]
        listener.server, listener.serve = server, serve
        if listener.closed:  # down since before the server started
            server.close()

    def port(self, upstream: str) -> int:
        return self._listeners[upstream].port

    def close(self, upstream: str) -> None:
        """Stop listening on ``upstream``'s port: connecting to it is refused from now on."""
        self._close(self._listeners[upstream])

    @staticmethod
    def _close(listener: _Listener) -> None:
        listener.closed = True
        if listener.opening is not None:
            listener.opening.add_done_callback(_close_served)
            listener.opening = None
        if listener.server is not None:
            listener.server.close()
            listener.server = None

    def reopen(self, upstream: str) -> None:
        """Listen on ``upstream``'s port again (bound now; served once the loop gets to it)."""
        listener = self._listeners[upstream]
        if not listener.closed:
            return
        listener.closed = False
        if listener.serve is None:  # not serving yet: the server starts it open
            return
        sock = bind_socket(listener.host, listener.port, listener.backlog)
        task = asyncio.get_running_loop().create_task(listener.serve(sock))
        listener.opening = task

        def served(done: asyncio.Task[asyncio.AbstractServer]) -> None:
            if listener.opening is done and not done.cancelled() and done.exception() is None:
                listener.server, listener.opening = done.result(), None

        task.add_done_callback(served)

    def close_all(self) -> None:
        """Stop listening everywhere and let go of the servers (the server is stopping)."""
        for listener in self._listeners.values():
            closed = listener.closed
            self._close(listener)
            listener.closed, listener.serve = closed, None


def _close_served(task: asyncio.Task[asyncio.AbstractServer]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().close()


__all__ = ["DEFAULT_BACKLOG", "UpstreamListeners", "bind_socket"]
