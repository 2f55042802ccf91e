"""Helpers of the spend budget's tests (``tests/budget/``): an injected clock at a fixed noon,
amounts in US dollars, and a ledger in a real ``redis-server`` (``redis_support``)."""

from __future__ import annotations

from datetime import datetime, timezone

from redis_support import RedisServer

from airflow_provider_grokvideo.budget.stores import RedisStore, ledger_name
from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings
from airflow_provider_grokvideo.pricing import usd_to_ticks

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc).timestamp()
DAY = 86_400.0


class Clock:
    """A clock the test moves by hand (``clock.now += DAY``)."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def usd(amount: str) -> int:
    return usd_to_ticks(amount)


def redis_store(server: RedisServer, conn_id: str = "videos") -> RedisStore:
    """``conn_id``'s ledger in ``server``."""
    settings = StoreSettings(conn_id="budget_store", host="127.0.0.1", port=server.port)
    return RedisStore(settings, ledger_name(conn_id))
