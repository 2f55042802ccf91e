"""Each connection's spend on the page (``plugins/spending.py``): the connections with a budget,
from the environment and the metadata database, each with its period's figures read from the
shared ledger in a real ``redis-server``, or the reason none can be shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from budget_support import usd
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)

from airflow_provider_grokvideo.budget.periods import BudgetLimits
from airflow_provider_grokvideo.budget.spend import SpendBudget
from airflow_provider_grokvideo.budget.stores import RedisStore, ledger_name
from airflow_provider_grokvideo.hooks.shared_budget import read_store
from airflow_provider_grokvideo.plugins.spending import connection_spends

pytestmark = pytest.mark.usefixtures("airflow_db")


def connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **extra: Any) -> None:
    value = {"conn_type": "grokvideo_xai", "password": "k", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


def test_each_budgeted_connection_with_its_figures_or_why_not(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUDGET_STORE", redis_server.airflow_connection())
    connection(monkeypatch, "shared_videos", budget_usd_per_day=1, redis_conn_id="budget_store")
    connection(monkeypatch, "alone_videos", budget_usd_per_month=5)
    connection(monkeypatch, "bad_videos", budget_usd_per_day="lots", redis_conn_id="budget_store")
    connection(monkeypatch, "free_videos", budget_timezone="UTC")  # no cap: not shown
    limits = BudgetLimits.from_extra("shared_videos", {"budget_usd_per_day": 1})
    store = RedisStore(read_store("budget_store"), ledger_name("shared_videos"))
    budget = SpendBudget(limits, store)
    budget.reserve("a", usd("0.35"), "video a")
    budget.reserve("b", usd("0.25"), "video b")
    budget.settle("b", usd("0.2"))

    spends = {spend.conn_id: spend for spend in connection_spends()}

    assert sorted(spends) == ["alone_videos", "bad_videos", "shared_videos"]
    [day] = spends["shared_videos"].periods
    assert (day["budget_usd"], day["spent_usd"], day["reserved_usd"]) == (1.0, 0.2, 0.35)
    assert day["period"].startswith("day:") and spends["shared_videos"].unseen is None
    assert "held in each worker process" in (spends["alone_videos"].unseen or "")
    assert "'lots' is not a number" in (spends["bad_videos"].unseen or "")
    assert spends["alone_videos"].periods == spends["bad_videos"].periods == []
