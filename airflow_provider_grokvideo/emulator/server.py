"""Running the emulator: a uvicorn server, in a background thread (:class:`Emulator`) or in the
foreground (``python -m airflow_provider_grokvideo.emulator``).

The server uses uvicorn's fastest parts when installed (httptools, uvloop), no access log, no
proxy-header middleware and long keep-alive, and installs a protocol subclass that reports each
TCP connection to the application (to count connections and to close one without answering).
Upstreams given a port of their own are served there too, by the same application
(``listeners.py``), so that an outage can refuse their connections.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import uvicorn

from airflow_provider_grokvideo.emulator.app import EmulatorApp
from airflow_provider_grokvideo.emulator.connections import ConnectionTracker
from airflow_provider_grokvideo.emulator.defaults import (
    DEFAULT_API_KEY,
    DEFAULT_JOB_SECONDS,
    DEFAULT_MAX_JOBS,
    UPSTREAMS,
)
from airflow_provider_grokvideo.emulator.listeners import DEFAULT_BACKLOG, bind_socket

#: Seconds an idle keep-alive connection stays open (uvicorn's default of 5 s would defeat the
#: connection pools of clients that poll every few seconds).
DEFAULT_KEEP_ALIVE = 75
#: Seconds the server waits for busy connections when it stops.
GRACEFUL_SHUTDOWN_SECONDS = 3

T = TypeVar("T")


def tracked_protocol(tracker: ConnectionTracker) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools if installed, else h11) reporting to ``tracker``."""
    base: type[Any]
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - h11 fallback
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class TrackedProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            tracker.connection_made(self.client, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            try:
                super().connection_lost(exc)
            finally:
                tracker.connection_lost(self.client)

    return TrackedProtocol


def make_config(
    app: EmulatorApp,
    *,
    ssl_certfile: str | os.PathLike[str] | None = None,
    ssl_keyfile: str | os.PathLike[str] | None = None,
    log_level: str = "warning",
    access_log: bool = False,
    keep_alive: int = DEFAULT_KEEP_ALIVE,
    backlog: int = DEFAULT_BACKLOG,
    configure_logging: bool = True,
) -> uvicorn.Config:
    """The uvicorn configuration of an emulator server."""
    if ssl_keyfile is not None and ssl_certfile is None:
        raise ValueError("ssl_keyfile needs ssl_certfile")
    kwargs: dict[str, Any] = {}
    if not configure_logging:
        kwargs["log_config"] = None
    return uvicorn.Config(
        app,
        http=tracked_protocol(app.connections),
        loop="auto",
        ws="none",
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        access_log=access_log,
        log_level=log_level,
        timeout_keep_alive=keep_alive,
        backlog=backlog,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ssl_certfile=os.fspath(ssl_certfile) if ssl_certfile is not None else None,
        ssl_keyfile=os.fspath(ssl_keyfile) if ssl_keyfile is not None else None,
        **kwargs,
    )


def url_of(sock: socket.socket, host: str, tls: bool) -> str:
    """The URL a local client uses to reach a server listening on ``sock``."""
    port = sock.getsockname()[1]
    name = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in name:
        name = f"[{name}]"
    return f"{'https' if tls else 'http'}://{name}:{port}"


class EmulatorServer(uvicorn.Server):
    """uvicorn's server, serving ``sockets[0]`` and then one socket per upstream with a port of
    its own (``upstream_sockets``, in order): it hands each upstream's listening server to the
    application, which closes it during a ``"refuse"`` outage and serves a new socket after."""

    def __init__(
        self, config: uvicorn.Config, app: EmulatorApp, upstream_sockets: Sequence[str] = ()
    ) -> None:
        super().__init__(config)
        self.emulator_app = app
        self.upstream_sockets = tuple(upstream_sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.upstream_sockets or not self.started:
            return
        config = self.config
        loop = asyncio.get_running_loop()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            # What uvicorn's own startup builds for each of its sockets.
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )

        async def serve(sock: socket.socket) -> asyncio.AbstractServer:
            return await loop.create_server(
                create_protocol, sock=sock, ssl=config.ssl, backlog=config.backlog
            )

        # uvicorn made one server per socket, in the order given.
        for upstream, server in zip(self.upstream_sockets, self.servers[1:], strict=True):
            self.emulator_app.listeners.attach(upstream, server, serve)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.emulator_app.listeners.close_all()  # the servers of ended outages are not uvicorn's
        await super().shutdown(sockets)


def _upstream_ports(value: Mapping[str, int] | Iterable[str] | None) -> dict[str, int]:
    """``{upstream: port}`` from upstream names (each on a free port) or such a mapping."""
    if value is None:
        return {}
    ports = dict(value) if isinstance(value, Mapping) else dict.fromkeys(value, 0)
    for upstream, port in ports.items():
        if upstream not in UPSTREAMS:
            raise ValueError(f"upstream must be one of {', '.join(UPSTREAMS)}; got {upstream!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"port of {upstream} must be 0 (a free port) to 65535, got {port!r}")
    return ports


def airflow_connection(url: str, upstream: str, api_key: str = DEFAULT_API_KEY) -> str:
    """The connection to one upstream of the emulator serving at ``url`` (for example one
    started with ``grokvideo-emulator``), as an ``AIRFLOW_CONN_<ID>`` environment variable takes
    it (JSON: type ``grokvideo_<upstream>``, host, key)."""
    if upstream not in UPSTREAMS:
        raise ValueError(f"upstream must be one of {', '.join(UPSTREAMS)}; got {upstream!r}")
    return json.dumps(
        {
            "conn_type": f"grokvideo_{upstream}",
            "host": f"{url.rstrip('/')}/{upstream}",
            "password": api_key,
        }
    )


class Emulator:
    """The emulator, served by uvicorn on a background thread.

    >>> with Emulator(job_seconds=1) as emu:              # doctest: +SKIP
    ...     httpx.post(emu.base_url("xai") + "/v1/videos/generations", ...)

    ``port=0`` (the default) picks a free port; read it back from :attr:`url` or :attr:`port`.
    ``upstream_ports`` serves some upstreams on a port of their own as well (names, each on a
    free port, or ``{"xai": 8001}``): :meth:`base_url` then gives that port, and
    ``set_outage(upstream, "refuse")`` can refuse its connections.
    Control methods (:meth:`stats`, :meth:`reset`, :meth:`inject`, ...) run on the server's
    event loop, so they are safe to call from any thread while it serves.
    """

    def __init__(
        self,
        *,
        api_key: str | Iterable[str] = DEFAULT_API_KEY,
        job_seconds: float = DEFAULT_JOB_SECONDS,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        max_jobs: int = DEFAULT_MAX_JOBS,
        log_level: str = "warning",
        access_log: bool = False,
        keep_alive: int = DEFAULT_KEEP_ALIVE,
        backlog: int = DEFAULT_BACKLOG,
        rate_limits: Mapping[str, float] | None = None,
        xai_pending_202: str | None = None,
        upstream_ports: Mapping[str, int] | Iterable[str] | None = None,
    ) -> None:
        self._upstream_ports = _upstream_ports(upstream_ports)
        self.app = EmulatorApp(
            api_key=api_key,
            job_seconds=job_seconds,
            max_jobs=max_jobs,
            rate_limits=rate_limits,
            xai_pending_202=xai_pending_202,
        )
        self.host = host
        self._port = port
        self._ssl_certfile = ssl_certfile
        self._ssl_keyfile = ssl_keyfile
        self._log_level = log_level
        self._access_log = access_log
        self._keep_alive = keep_alive
        self._backlog = backlog
        self._sock: socket.socket | None = None
        self._upstream_socks: dict[str, socket.socket] = {}
        self._upstream_urls: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._url: str | None = None

    # ------------------------------------------------------------------------ addresses

    @property
    def api_key(self) -> str:
        """One accepted API key (the default key unless configured)."""
        return sorted(self.app.keys)[0]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS), once started."""
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def upstream_url(self, upstream: str) -> str:
        """Where one upstream is served: its own port's URL if it has one, else :attr:`url`."""
        if upstream not in UPSTREAMS:
            raise ValueError(f"upstream must be one of {', '.join(UPSTREAMS)}; got {upstream!r}")
        return self._upstream_urls.get(upstream) or self.url

    def base_url(self, upstream: str) -> str:
        """The base URL of one upstream: ``<url>/xcompute``, ``<url>/mountsea`` or ``<url>/xai``
        (with the upstream's own port instead, where it has one)."""
        return f"{self.upstream_url(upstream)}/{upstream}"

    def airflow_connection(self, upstream: str) -> str:
        """The connection to one upstream of this emulator, as an ``AIRFLOW_CONN_<ID>``
        environment variable takes it (JSON: type ``grokvideo_<upstream>``, host, key)."""
        return airflow_connection(self.upstream_url(upstream), upstream, self.api_key)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------------ life

    def start(self, timeout: float = 15.0) -> Emulator:
        """Start serving on a background thread; return once the server accepts requests."""
        if self.running:
            return self
        config = make_config(
            self.app,
            ssl_certfile=self._ssl_certfile,
            ssl_keyfile=self._ssl_keyfile,
            log_level=self._log_level,
            access_log=self._access_log,
            keep_alive=self._keep_alive,
            backlog=self._backlog,
            configure_logging=False,
        )
        tls = self._ssl_certfile is not None
        self._sock = bind_socket(self.host, self._port, self._backlog)
        self._url = url_of(self._sock, self.host, tls=tls)
        try:
            for upstream, port in self._upstream_ports.items():
                sock = self._upstream_socks[upstream] = bind_socket(self.host, port, self._backlog)
                self._upstream_urls[upstream] = url_of(sock, self.host, tls=tls)
                self.app.serve_on_own_port(upstream, sock)
        except BaseException:
            self.stop()
            raise
        self._server = EmulatorServer(config, self.app, tuple(self._upstream_socks))
        self._error = None
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._server, [self._sock, *self._upstream_socks.values()], config),
            name="grokvideo-emulator",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start: {self._error!r}") from self._error
            time.sleep(0.005)
        return self

    def _serve(
        self, server: uvicorn.Server, sockets: list[socket.socket], config: uvicorn.Config
    ) -> None:
        factory = config.get_loop_factory()
        loop = factory() if factory is not None else asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=sockets))
        except BaseException as exc:
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
        for sock in self._upstream_socks.values():
            sock.close()
        self._upstream_socks.clear()
        self._thread = None
        self._server = None
        self._sock = None
        self._loop = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------ control

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's event loop (or here when the server is not running)."""
        loop = self._loop
        if loop is None or not self.running or threading.current_thread() is self._thread:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def stats(self) -> dict[str, Any]:
        """Counters since start or last reset (same as ``GET /_emulator/stats``)."""
        return self._call(self.app.stats)

    def reset(self) -> None:
        """Forget jobs, pending faults and counters (same as ``POST /_emulator/reset``)."""
        self._call(self.app.reset)

    def inject(
        self,
        fault: str | int,
        *,
        count: int = 1,
        upstream: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        """Queue a global fault for the next ``count`` matching requests.

        Same as ``POST /_emulator/faults``; raises :class:`ValueError` for a bad argument.
        """
        return self._call(
            lambda: self.app.inject(
                fault,
                count=count,
                upstream=upstream,
                endpoint=endpoint,
                retry_after=retry_after,
                delay=delay,
            )
        )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._call(self.app.clear_faults)

    def set_xai_pending_202(self, value: str | None) -> str | None:
        """Make xAI polls of running jobs answer HTTP 202: ``"empty"`` (no body), ``"body"``
        (``{"status":"pending","progress":N}``), or None/``"off"`` for HTTP 200 again."""
        return self._call(lambda: self.app.set_xai_pending_202(value))

    def set_xai_batch_url_seconds(self, seconds: float | None) -> float:
        """How long an xAI batch result's video URL lives (None: xAI's one hour)."""
        return self._call(lambda: self.app.batches.set_url_seconds(seconds))

    def hold(self) -> None:
        """Stop every unfinished job's clock until :meth:`release` (``POST /_emulator/hold``)."""
        self._call(self.app.hold)

    def release(self) -> int:
        """Restart the held jobs' clocks; how many were held (``POST /_emulator/release``)."""
        return self._call(self.app.release)

    def set_rate_limits(self, limits: Mapping[str, float | None]) -> dict[str, float]:
        """Set (requests per second per key) or remove (``None``) upstreams' rate limits.

        Same as ``PUT /_emulator/rate-limits``; returns every limit now in force.
        """
        return self._call(lambda: self.app.set_rate_limits(limits))

    def set_outage(self, upstream: str, kind: str | None) -> dict[str, str]:
        """Put one upstream down until told otherwise (``"refuse"``, ``"401"``, ``"402"``,
        ``"credits"``; see ``outages.py``) or up again (``None``); returns every outage now on.

        Same as ``PUT /_emulator/outages`` with ``{upstream: kind}``; ``"refuse"`` needs the
        upstream on a port of its own (``upstream_ports``).  Raises :class:`ValueError`.
        """
        return self.set_outages({upstream: kind})

    def set_outages(self, outages: Mapping[str, str | None]) -> dict[str, str]:
        """Several :meth:`set_outage` at once (``PUT /_emulator/outages``)."""
        if "refuse" in outages.values() and self._thread is None:
            raise RuntimeError("the emulator is not started: its own ports are bound by start()")
        return self._call(lambda: self.app.set_outages(outages))

    def job(self, job_id: str) -> dict[str, Any] | None:
        """What the emulator knows of one job (``GET /_emulator/jobs/{id}``), or ``None``."""
        return self._call(lambda: self.app.job(job_id))

    def __repr__(self) -> str:
        where = self._url if self.running else "stopped"
        return f"<Emulator {where}>"
