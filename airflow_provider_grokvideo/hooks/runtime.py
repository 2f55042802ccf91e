"""One runtime per connection: what the hooks of one API key at one base URL share while they
run, found by one key and reset by one call.

A :class:`Runtime` holds the pooled async clients, the request pacers (each with the shared
budget's store it draws on), and the durations of the key's finished jobs.  Its event loop's
registry also keeps the hooks the triggers read from Airflow, by connection name.

**Keyed once**: (event loop, base URL, SHA-256 of the API key).  The key itself is never a
dictionary key here, and neither a log line nor a ``repr`` shows it or its hash.  The sync
requests of a process's threads (submits, pokes) have no loop: their runtime is the process's.

**One lifetime**: a runtime lives as long as its event loop; the process's, as long as the
process.  Why: everything in it describes how the upstream treats this key right now (the
budget learned from its 429s, a pause, its jobs' durations, kept-alive connections), which is
worth keeping exactly as long as something may send another request through it, and a finished
loop (an ``asyncio.run`` in a task, a test's) never will.  So the loop's registry is weakly
keyed and goes with the loop.  Within that life, what holds outside resources follows its
holders: a pooled client is open while leased (a loop that polls nothing holds no sockets),
and a hook read from Airflow is a copy of a connection someone may edit, reused for
:data:`HOOK_REUSE_SECONDS` only.

:func:`reset` forgets every runtime of the process (for tests: what one test taught a pacer
must not slow the next).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.clients import SharedClient
    from airflow_provider_grokvideo.hooks.pacer import AsyncPacer, JobDurations, SyncPacer
    from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings

#: (base URL, SHA-256 of the API key, hex): one key's budget at one host.
RuntimeKey = tuple[str, str]

#: Seconds a hook read from Airflow by the triggers of one loop is reused: thousands of waits
#: then cost one async connection lookup (and one set of hook objects), not thousands, and a
#: connection changed in Airflow is picked up by the triggers that start after that.
HOOK_REUSE_SECONDS = 60.0

_T = TypeVar("_T")


def runtime_key(base_url: str, api_key: str) -> RuntimeKey:
    return (base_url, hashlib.sha256(api_key.encode()).hexdigest())


class Runtime:
    """One connection key's run-time state in one event loop (or the process's threads).

    :param label: the upstream and its base URL, for log lines (never the key).
    """

    __slots__ = ("_clients", "_lock", "_pacers", "durations", "in_loop", "key", "label")

    def __init__(self, key: RuntimeKey, label: str, *, in_loop: bool) -> None:
        from airflow_provider_grokvideo.hooks.pacer import JobDurations

        self.key = key
        self.label = label
        #: An event loop's runtime (async requests), or the process's (sync ones).  Not the
        #: loop itself: the registry is weakly keyed by the loop, and a runtime holding it
        #: would keep a finished loop, and everything in its registry, alive.
        self.in_loop = in_loop
        #: How long the key's recently finished jobs took (the trigger places its polls by it).
        self.durations: JobDurations = JobDurations()
        # The connection's timeout is part of what a leased client does for its holder, so
        # hooks of one key with different timeouts lease different clients.
        self._clients: dict[str, SharedClient] = {}
        # By budget: "" is the key's request budget; another name is one of its own (xAI's
        # batch adds).
        self._pacers: dict[str, Any] = {}
        self._lock = threading.Lock()  # the process's runtime is used by several threads

    def __repr__(self) -> str:
        return f"Runtime({self.label!r}, {'event loop' if self.in_loop else 'process'})"

    # -- the pooled async clients (a loop's runtime) ------------------------------------------
    def acquire_client(self, variant: str, new: Callable[[], SharedClient]) -> SharedClient:
        """The pooled client of ``variant`` (made by ``new`` when none is open), leased once
        more."""
        shared = self._clients.get(variant)
        if shared is None:
            shared = self._clients[variant] = new()
        shared.leases += 1
        return shared

    async def release_client(self, variant: str, shared: SharedClient) -> None:
        """One lease of ``shared`` ends; the last one closes it."""
        shared.leases -= 1
        if shared.leases == 0:
            if self._clients.get(variant) is shared:
                del self._clients[variant]
            await shared.client.aclose()

    # -- the pacers ----------------------------------------------------------------------------
    def async_pacer(
        self, requests_per_second: float | None, store: StoreSettings | None
    ) -> AsyncPacer:
        """The loop's pacer of the key (made on first use); ``store``: where the key's budget
        is shared with every process (see ``shared_budget.py``)."""
        from airflow_provider_grokvideo.hooks.pacer import AsyncPacer
        from airflow_provider_grokvideo.hooks.shared_budget import AsyncStore

        pacer = self._pacers.get("")
        if pacer is None:
            pacer = self._pacers[""] = AsyncPacer(requests_per_second)
            self._attach(pacer, "", store, AsyncStore)
        else:
            if pacer.budget.configured != requests_per_second:
                pacer.budget.configure(requests_per_second)
            if _store_changed(pacer.shared, store):
                self._attach(pacer, "", store, AsyncStore)
        return pacer

    def sync_pacer(
        self, requests_per_second: float | None, store: StoreSettings | None, budget: str = ""
    ) -> SyncPacer:
        """The process's pacer of the key for sync requests; ``budget`` names a budget of the
        key apart from its requests' (xAI's batch adds)."""
        from airflow_provider_grokvideo.hooks.pacer import SyncPacer
        from airflow_provider_grokvideo.hooks.shared_budget import SyncStore

        with self._lock:
            pacer = self._pacers.get(budget)
            if pacer is None:
                pacer = self._pacers[budget] = SyncPacer(requests_per_second)
                self._attach(pacer, budget, store, SyncStore)
            elif _store_changed(pacer.shared, store):
                self._attach(pacer, budget, store, SyncStore)
        if pacer.budget.configured != requests_per_second:
            with pacer._condition:
                pacer.budget.configure(requests_per_second)
        return pacer

    def _attach(self, pacer: Any, budget: str, store: StoreSettings | None, kind: Any) -> None:
        # The store names the budget by this key (its Redis key is a hash of it).
        key: Hashable = (*self.key, budget) if budget else self.key
        label = f"{self.label} {budget}" if budget else self.label
        if store is not None:
            pacer.shared = kind(store, key, label)
            return
        pacer.shared = None
        with _registry.lock:  # said once per process, whichever loop or thread asks first
            said = key in _registry.said_alone
            _registry.said_alone.add(key)
        if not said:
            from airflow_provider_grokvideo.hooks.shared_budget import log_pacing_alone

            log_pacing_alone(label, pacer.budget.configured)


def _store_changed(shared: Any, store: StoreSettings | None) -> bool:
    return (shared.settings if shared is not None else None) != store


class _LoopRuntimes:
    """One event loop's runtimes, and the hooks its triggers read from Airflow."""

    __slots__ = ("hooks", "runtimes")

    def __init__(self) -> None:
        self.runtimes: dict[RuntimeKey, Runtime] = {}
        #: Connection name -> (reusable until, monotonic; the hook being read or read).
        self.hooks: dict[str, tuple[float, asyncio.Future[Any]]] = {}


class _Registry:
    """Every runtime of the process, in one object so that one reset forgets them all."""

    def __init__(self) -> None:
        # Weak keys: a finished loop's runtimes go with it (the lifetime rule above).
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopRuntimes] = (
            weakref.WeakKeyDictionary()
        )
        self.process: dict[RuntimeKey, Runtime] = {}
        #: Budgets this process has said it paces alone (a line once per process, not per loop).
        self.said_alone: set[Hashable] = set()
        self.lock = threading.Lock()


_registry = _Registry()


def _loop_runtimes(loop: asyncio.AbstractEventLoop) -> _LoopRuntimes:
    runtimes = _registry.loops.get(loop)
    if runtimes is None:
        runtimes = _registry.loops[loop] = _LoopRuntimes()
    return runtimes


def loop_runtime(key: RuntimeKey, label: str) -> Runtime:
    """The running event loop's runtime of ``key`` (made on first use)."""
    runtimes = _loop_runtimes(asyncio.get_running_loop()).runtimes
    runtime = runtimes.get(key)
    if runtime is None:
        runtime = runtimes[key] = Runtime(key, label, in_loop=True)
    return runtime


def process_runtime(key: RuntimeKey, label: str) -> Runtime:
    """The process's runtime of ``key``, for the sync requests of its threads."""
    with _registry.lock:
        runtime = _registry.process.get(key)
        if runtime is None:
            runtime = _registry.process[key] = Runtime(key, label, in_loop=False)
    return runtime


class _LookupInterrupted(Exception):
    """The trigger that was reading a shared connection was cancelled mid-way."""


async def reused_hook(conn_id: str, read: Callable[[], Awaitable[_T]]) -> _T:
    """The hook of ``conn_id`` the running loop read last, or ``read()``'s: at most one read per
    :data:`HOOK_REUSE_SECONDS` per loop, however many triggers start at once."""
    loop = asyncio.get_running_loop()
    hooks = _loop_runtimes(loop).hooks
    while True:
        now = time.monotonic()
        cached = hooks.get(conn_id)
        if cached is not None and cached[0] > now:
            try:
                return await asyncio.shield(cached[1])
            except _LookupInterrupted:
                continue  # the trigger reading it was cancelled: read it ourselves
        entry: tuple[float, asyncio.Future[Any]] = (
            now + HOOK_REUSE_SECONDS,
            loop.create_future(),
        )
        hooks[conn_id] = entry
        future = entry[1]
        try:
            future.set_result(await read())
        except BaseException as exc:
            if hooks.get(conn_id) is entry:
                del hooks[conn_id]  # a failed lookup is not remembered
            interrupted = not isinstance(exc, Exception)
            future.set_exception(_LookupInterrupted() if interrupted else exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        return future.result()


def reset() -> None:
    """Forget every runtime of the process: its pacers, durations, hooks and what it said."""
    global _registry
    _registry = _Registry()


__all__ = [
    "HOOK_REUSE_SECONDS",
    "Runtime",
    "RuntimeKey",
    "loop_runtime",
    "process_runtime",
    "reset",
    "reused_hook",
    "runtime_key",
]
