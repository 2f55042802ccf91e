"""The spend budget in ``dag.test()`` runs against the emulator and a real Redis: a mapped run
stops at the budget, the rest refused unsent and named in their logs; a failover candidate is
checked against its own connection's budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dag_bundles import dag_module
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)

from airflow_provider_grokvideo.budget.periods import BudgetLimits
from airflow_provider_grokvideo.budget.spend import SpendBudget
from airflow_provider_grokvideo.budget.stores import RedisStore, ledger_name
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks.shared_budget import StoreSettings
from airflow_provider_grokvideo.pricing import usd_to_ticks

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    with dag_module("grokvideo_budget_runs", "grokvideo-budget-tests") as module:
        yield module


def budgeted(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, conn_id: str, **extra: Any
) -> None:
    conn = json.loads(emulator.airflow_connection("xai"))
    conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def connections(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,  # noqa: F811
) -> RedisServer:
    monkeypatch.setenv("AIRFLOW_CONN_BUDGET_REDIS", redis_server.airflow_connection())
    shared = {"redis_conn_id": "budget_redis"}
    budgeted(emulator, monkeypatch, "budget_small", budget_usd_per_day="0.30", **shared)
    budgeted(emulator, monkeypatch, "budget_spent", budget_usd_per_day="0.10", **shared)
    budgeted(
        emulator,
        monkeypatch,
        "budget_priced",
        budget_usd_per_day="1.00",
        prices={"grok-imagine-video": {"480p": 0.10}},
        **shared,
    )
    return redis_server


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def ledger(server: RedisServer, conn_id: str, per_day: str) -> SpendBudget:
    settings = StoreSettings(conn_id="budget_redis", host="127.0.0.1", port=server.port)
    limits = BudgetLimits.from_extra(conn_id, {"budget_usd_per_day": per_day})
    return SpendBudget(limits, RedisStore(settings, ledger_name(conn_id)))


def test_a_mapped_run_stops_at_the_budget_the_rest_refused_unsent(
    dags, connections, emulator, capfd
) -> None:
    run = dags.mapped.test()
    made = [key for key, state in states(run).items() if state == "success"]
    refused = [key for key, state in states(run).items() if state == "failed"]
    assert (len(made), len(refused)) == (1, 2), states(run)
    # Nothing of the refused ones reached the upstream.
    assert int(emulator.stats()["upstreams"]["xai"]["submissions"]) == 1
    [day] = ledger(connections, "budget_small", "0.30").status()
    assert (day.spent_ticks, day.reserved_ticks) == (usd_to_ticks("0.25"), 0)
    logged = "".join(capfd.readouterr())
    said = "does not fit its budget_usd_per_day of $0.30"
    assert logged.count(said) >= 2 and "$0.25 spent and $0.00 reserved" in logged
    assert "nothing was sent" in logged and "resets at" in logged


def test_a_failover_candidate_is_checked_against_its_own_budget(
    dags, connections, emulator
) -> None:
    run = dags.failover.test()
    assert set(states(run).values()) == {"success"}, states(run)
    assert ledger(connections, "budget_spent", "0.10").status()[0].spent_ticks == 0
    [day] = ledger(connections, "budget_small", "0.30").status()
    assert day.spent_ticks == usd_to_ticks("0.25")
    # The page shows each connection's spend for the period against its budget (its route
    # is the one tests/operators/test_review.py reads through Airflow's API app).
    import re

    from airflow_provider_grokvideo.plugins.generations import Filters, Page
    from airflow_provider_grokvideo.plugins.page import render_page
    from airflow_provider_grokvideo.plugins.spending import connection_spends

    spends = connection_spends()
    page = render_page(Page([], 0, Filters()), base="/grokvideo", dag_ids=[], spends=spends)
    rows = dict(re.findall(r'<tr data-conn-id="([^"]+)">(.*?)</tr>', page, re.S))
    assert '<td class="spent">$0.25</td>' in rows["budget_small"]
    assert '<td class="budget">$0.30</td>' in rows["budget_small"]
    assert '<td class="spent">$0.00</td>' in rows["budget_spent"]


def test_the_bill_is_counted_where_the_wait_ends(
    dags, connections, emulator, dag_test_ends_tasks_like_a_deployment
) -> None:
    """A wait that the triggerer ends settles the reservation to what xAI billed, as a
    worker's ending does: $0.25 billed counts, not the $0.50 estimate."""
    from airflow_provider_grokvideo import compat

    run = dags.billed.test()
    assert set(states(run).values()) == {"success"}, states(run)
    [day] = ledger(connections, "budget_priced", "1.00").status()
    assert (day.spent_ticks, day.reserved_ticks) == (usd_to_ticks("0.25"), 0)
    # Ended by its trigger where Airflow can (no second start on a worker), else resumed.
    ended = dag_test_ends_tasks_like_a_deployment
    assert len(ended) == (1 if compat.TRIGGER_CAN_END_TASKS else 0)
