"""The ledger's arithmetic (``budget/ledger.py``): its Lua script, run by a real ``redis-server``,
and its Python twin agree answer for answer and field for field."""

from __future__ import annotations

import random

from budget_support import DAY, NOON, redis_store, usd
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)

from airflow_provider_grokvideo.budget.ledger import apply
from airflow_provider_grokvideo.budget.periods import BudgetLimits


def test_the_lua_script_and_the_python_twin_agree(redis_server: RedisServer) -> None:  # noqa: F811
    store = redis_store(redis_server)
    twin: dict[str, str] = {}
    rng = random.Random(32)
    now = NOON
    limits = BudgetLimits.from_extra("videos", {"budget_usd_per_day": 3, "budget_usd_per_month": 7})
    for step in range(400):
        now += rng.choice([0.5, 60.0, 3_600.0, 30_000.0])
        op = rng.choice(["reserve", "reserve", "settle", "release", "status"])
        ident = rng.choice(["a", "b", "c", "d", "gen:a", "gen:b"])
        ticks = usd(str(rng.choice(["0.35", "0.7", "1.2", "0"])))
        alias = rng.choice(["", "", "gen:a", "gen:b"]) if op == "settle" else ""
        pairs = [t for p in limits.periods(now) for t in (p.name, str(p.limit_ticks))]
        args = [op, ident, str(ticks), f"{now:.3f}", f"{2 * DAY:.3f}", alias, *pairs]
        assert store.run(args) == apply(twin, args), f"step {step}: {args}"
        assert store.fields() == twin, f"step {step}: {args}"
