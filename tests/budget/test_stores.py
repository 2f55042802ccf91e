"""Where a ledger is kept (``budget/stores.py``): in Redis under a hash of the connection's name;
a ledger that cannot be read sends nothing."""

from __future__ import annotations

import pytest
import redis
from budget_support import Clock, redis_store, usd
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)

from airflow_provider_grokvideo.budget.periods import BudgetLimits
from airflow_provider_grokvideo.budget.spend import SpendBudget
from airflow_provider_grokvideo.budget.stores import RedisStore, ledger_name
from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings


def test_the_ledger_is_named_by_a_hash_of_the_connection(redis_server: RedisServer) -> None:  # noqa: F811
    store = redis_store(redis_server, "marketing")
    budget = SpendBudget(
        BudgetLimits.from_extra("marketing", {"budget_usd_per_day": 1}), store, Clock()
    )
    budget.reserve("a", usd("0.1"), "a")
    keys = redis.Redis(port=redis_server.port).keys("grokvideo:spend:*")
    assert keys == [ledger_name("marketing").encode()] and b"marketing" not in keys[0]


def test_a_ledger_that_cannot_be_read_sends_nothing() -> None:
    from redis_support import free_port

    from airflow_provider_grokvideo.budget.stores import SpendStoreDown

    settings = StoreSettings(conn_id="budget_store", host="127.0.0.1", port=free_port())
    limits = BudgetLimits.from_extra("videos", {"budget_usd_per_day": 1})
    budget = SpendBudget(limits, RedisStore(settings, ledger_name("videos")), Clock())
    with pytest.raises(SpendStoreDown, match=r"cannot be read .* nothing was sent"):
        budget.reserve("a", usd("0.1"), "a")
