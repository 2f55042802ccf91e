"""The spend budget (``budget/spend.py``): reserve, settle, release and expiry with an injected
clock, a month in a time zone, and workers racing for the last dollars in a real
``redis-server``: never one tick over."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from budget_support import DAY, NOON, Clock, redis_store, usd
from redis_support import RedisServer, redis_server  # noqa: F401  (the fixture)

from airflow_provider_grokvideo.budget.periods import BudgetLimits
from airflow_provider_grokvideo.budget.spend import BudgetExceeded, SpendBudget
from airflow_provider_grokvideo.budget.stores import ProcessStore, ledger_name


def process_budget(clock: Clock, **extra: Any) -> SpendBudget:
    ProcessStore.forget_all()
    limits = BudgetLimits.from_extra("videos", {"budget_usd_per_day": 1, **extra})
    return SpendBudget(limits, ProcessStore(ledger_name("videos")), clock)


def test_a_request_that_does_not_fit_is_refused_naming_the_budget_and_the_reset() -> None:
    clock = Clock()
    budget = process_budget(clock)
    assert budget.reserve("a", usd("0.35"), "video a")
    budget.settle("a", usd("0.35"), alias="gen:1")
    assert budget.reserve("b", usd("0.35"), "video b")
    with pytest.raises(BudgetExceeded) as refused:
        budget.reserve("c", usd("0.35"), "video c")
    message = str(refused.value)
    assert "budget_usd_per_day of $1.00" in message
    assert "$0.35 spent and $0.35 reserved, $0.30 left" in message
    assert "resets at 2026-12-08 00:00+00:00" in message and "nothing was sent" in message
    [day] = budget.status()
    assert (day.spent_ticks, day.reserved_ticks, day.left_ticks) == (
        usd("0.35"),
        usd("0.35"),
        usd("0.3"),
    )


def test_settle_release_retry_and_expiry_never_double_count_nor_forget() -> None:
    clock = Clock()
    budget = process_budget(clock)
    assert budget.reserve("a", usd("0.4"), "a")
    assert not budget.reserve("a", usd("0.4"), "a")  # a retry: the same reservation, held
    assert budget.status()[0].reserved_ticks == usd("0.4")
    budget.settle("a", usd("0.4"), alias="gen:a")  # the job exists: at its estimate
    budget.settle("gen:a", usd("0.25"))  # then billed: corrected, not added
    budget.settle("gen:a", usd("0.25"))  # reported twice: still once
    assert (budget.status()[0].spent_ticks, budget.status()[0].reserved_ticks) == (usd("0.25"), 0)
    assert budget.reserve("b", usd("0.5"), "b")
    assert budget.release("b")  # surely no job
    assert not budget.release("b")
    assert budget.reserve("c", usd("0.5"), "c")  # killed mid-submit: never settled
    clock.now += 2 * DAY + 1  # past its lifetime: counted as spent at its estimate, in its day
    limits = budget.limits
    assert budget.status()[0].spent_ticks == 0  # a new day
    yesterday = [p for p in limits.periods(NOON)]
    assert yesterday[0].name == "day:2026-12-07"
    fields = budget.store.fields()
    assert fields.get("spent:day:2026-12-07") == str(usd("0.75"))
    budget.settle("c", usd("0.45"))  # its bill, late: corrects the day it was counted in
    assert budget.store.fields()["spent:day:2026-12-07"] == str(usd("0.7"))


def test_a_month_and_a_time_zone() -> None:
    clock = Clock(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc).timestamp())
    budget = process_budget(
        clock, budget_usd_per_month="1.5", budget_timezone="Asia/Tokyo", budget_usd_per_day=5
    )
    day, month = budget.status()
    assert (day.period.name, month.period.name) == ("day:2027-01-01", "month:2027-01")
    assert month.period.resets_at.isoformat() == "2027-02-01T00:00:00+09:00"
    budget.reserve("a", usd("1"), "a")
    with pytest.raises(BudgetExceeded, match=r"budget_usd_per_month of \$1.50 \(month:2027-01"):
        budget.reserve("b", usd("1"), "b")


def test_a_budget_without_a_price_refuses_rather_than_pays() -> None:
    with pytest.raises(BudgetExceeded, match="no price is known"):
        process_budget(Clock()).reserve("a", None, "video a")


def test_workers_racing_for_the_last_dollars_never_go_over(redis_server: RedisServer) -> None:  # noqa: F811
    """8 workers (each its own Redis client) x 25 requests of $0.35 against $10 a day: exactly
    28 reserved, never one tick over, and the ledger says so."""
    limits = BudgetLimits.from_extra("videos", {"budget_usd_per_day": 10})
    granted: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def worker(number: int) -> None:
        budget = SpendBudget(limits, redis_store(redis_server), Clock())
        start.wait()
        for request in range(25):
            ident = f"w{number}-r{request}"
            try:
                budget.reserve(ident, usd("0.35"), ident)
            except BudgetExceeded:
                refused.append(ident)
            else:
                granted.append(ident)
                if request % 3 == 0:  # some are billed (less than estimated), some still held
                    budget.settle(ident, usd("0.30"), alias=f"gen:{ident}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    [day] = SpendBudget(limits, redis_store(redis_server), Clock()).status()
    assert len(granted) + len(refused) == 200
    assert day.spent_ticks + day.reserved_ticks <= usd("10")
    # What was settled below its estimate freed room for a few more: every tick is accounted.
    settled = sum(1 for g in granted if int(g.split("-r")[1]) % 3 == 0)
    assert day.spent_ticks == settled * usd("0.30")
    assert day.reserved_ticks == (len(granted) - settled) * usd("0.35")
    assert day.left_ticks < usd("0.35")
