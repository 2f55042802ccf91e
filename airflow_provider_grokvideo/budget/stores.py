"""Where a connection's spend ledger lives: the deployment's Redis, or this process.

:class:`RedisStore` runs the ledger's Lua script (:data:`~.ledger.SCRIPT`) atomically in the Redis
named by the grokvideo connection's extra ``redis_conn_id`` (the shared request budget's store,
read as ``hooks/shared_budget.StoreSettings``): every worker and triggerer sees one ledger.
:class:`ProcessStore` runs the Python twin (:func:`~.ledger.apply`) under a lock: the budget
then holds within one process only, which is said once in the log.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from airflow_provider_grokvideo.budget.ledger import SCRIPT, apply
from airflow_provider_grokvideo.exceptions import GrokVideoError

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings

log = logging.getLogger(__name__)

#: Prefix of the ledgers' hashes in Redis (beside the request budget's ``grokvideo:budget:``).
KEY_PREFIX = "grokvideo:spend:"


class SpendStoreDown(GrokVideoError):
    """The ledger cannot be read now: nothing is sent (a paid request is never sent unchecked)."""


class LedgerStore(Protocol):
    #: Whether every process of the deployment sees this ledger.
    shared: bool

    def run(self, args: list[str]) -> list[str]: ...

    def fields(self) -> dict[str, str]: ...


def ledger_name(conn_id: str) -> str:
    """The Redis key of a connection's ledger: a hash of the connection id."""
    return KEY_PREFIX + hashlib.sha256(conn_id.encode()).hexdigest()[:32]


class ProcessStore:
    """The ledger of one connection in this process (the Python twin, under a lock)."""

    shared = False
    _ledgers: ClassVar[dict[str, dict[str, str]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, args: list[str]) -> list[str]:
        with self._lock:
            return apply(self._ledgers.setdefault(self.name, {}), args)

    def fields(self) -> dict[str, str]:
        with self._lock:
            return dict(self._ledgers.get(self.name, {}))

    @classmethod
    def forget_all(cls) -> None:
        """Tests: start from empty ledgers."""
        with cls._lock:
            cls._ledgers.clear()


class RedisStore:
    """The ledger of one connection in the deployment's Redis (one Lua script per operation)."""

    shared = True

    def __init__(self, settings: StoreSettings, name: str, client: Any = None) -> None:
        import redis

        self.settings = settings
        self.name = name
        self._client = client or redis.Redis(**settings.client_arguments())
        self._script = self._client.register_script(SCRIPT)
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    def run(self, args: list[str]) -> list[str]:
        try:
            reply = self._script(keys=[self.name], args=args)
        except self._errors as exc:
            raise SpendStoreDown(
                f"the spend budget in {self.settings.where} cannot be read "
                f"({type(exc).__name__}: {exc}); nothing was sent"
            ) from None
        return [v.decode() if isinstance(v, bytes) else str(v) for v in reply]

    def fields(self) -> dict[str, str]:
        raw = self._client.hgetall(self.name)
        return {k.decode(): v.decode() for k, v in raw.items()}


_PER_PROCESS_LOGGED: set[str] = set()


def log_per_process(conn_id: str) -> None:
    """Once per process and connection: without a shared store the budget is this process's."""
    if conn_id in _PER_PROCESS_LOGGED:
        return
    _PER_PROCESS_LOGGED.add(conn_id)
    log.warning(
        "connection %s: its spend budget is held in this process only (no redis_conn_id extra): "
        "every other worker counts its own, so N processes may spend up to N times the budget. "
        "Name the deployment's Redis connection in the extra redis_conn_id to share one ledger.",
        conn_id,
    )
