"""A connection's budget and its periods (``budget/periods.py``): the extras read, the days and
months named and reset in the budget's time zone."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from budget_support import NOON, usd

from airflow_provider_grokvideo.budget.periods import BudgetLimits
from airflow_provider_grokvideo.exceptions import GrokVideoError


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"budget_usd_per_day": "lots"}, r"budget_usd_per_day='lots' is not a number"),
        ({"budget_usd_per_day": 1, "budget_timezone": "Mars/Base"}, r"not a time zone"),
    ],
)
def test_bad_extras_are_refused_naming_them(extra: dict[str, Any], error: str) -> None:
    with pytest.raises(GrokVideoError, match=error):
        BudgetLimits.from_extra("videos", extra)


def test_no_cap_set_is_no_budget() -> None:
    for extra in ({}, {"budget_usd_per_day": "", "budget_usd_per_month": None}):
        limits = BudgetLimits.from_extra("videos", extra)
        assert not limits.any and limits.periods(NOON) == []


def test_a_day_and_a_month_in_utc_are_named_and_reset_at_midnight() -> None:
    limits = BudgetLimits.from_extra(
        "videos", {"budget_usd_per_day": 1, "budget_usd_per_month": 20}
    )
    day, month = limits.periods(NOON)
    assert (day.name, day.kind, day.extra) == ("day:2026-12-07", "day", "budget_usd_per_day")
    assert (month.name, month.extra) == ("month:2026-12", "budget_usd_per_month")
    assert (day.limit_ticks, month.limit_ticks) == (usd("1"), usd("20"))
    assert day.resets_at == datetime(2026, 12, 8, tzinfo=timezone.utc)
    assert month.resets_at == datetime(2027, 1, 1, tzinfo=timezone.utc)  # past December
    [next_day, _] = limits.periods(day.resets_at.timestamp())
    assert next_day.name == "day:2026-12-08"  # the reset instant belongs to the new day


def test_periods_start_at_midnight_in_the_budgets_time_zone() -> None:
    limits = BudgetLimits.from_extra(
        "videos",
        {"budget_usd_per_day": 1, "budget_usd_per_month": 5, "budget_timezone": "Asia/Tokyo"},
    )
    # 23:30 UTC on New Year's Eve is already 08:30 on New Year's Day in Tokyo.
    now = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc).timestamp()
    day, month = limits.periods(now)
    assert (day.name, month.name) == ("day:2027-01-01", "month:2027-01")
    assert day.resets_at.isoformat() == "2027-01-02T00:00:00+09:00"
    assert month.resets_at.isoformat() == "2027-02-01T00:00:00+09:00"
    only_month = BudgetLimits.from_extra("videos", {"budget_usd_per_month": 5})
    assert [p.kind for p in only_month.periods(now)] == ["month"]
