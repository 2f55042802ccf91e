"""A connection's spend budget and the periods it is counted in.  Pure: the clock is passed in.

The connection extras ``budget_usd_per_day`` and ``budget_usd_per_month`` (US dollars; either,
both or neither) cap what the connection may spend in a calendar day and month.  Periods start
at midnight (and on the first of the month) in ``budget_timezone`` (an IANA name, default UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.pricing import usd_to_ticks

DAY_EXTRA = "budget_usd_per_day"
MONTH_EXTRA = "budget_usd_per_month"
TIMEZONE_EXTRA = "budget_timezone"
BUDGET_EXTRAS = (DAY_EXTRA, MONTH_EXTRA, TIMEZONE_EXTRA)


@dataclass(frozen=True)
class Period:
    """One period of one budget: ``name`` is what the ledger counts it under
    (``day:2026-12-07``, ``month:2026-12``), ``resets_at`` when the next one starts."""

    kind: str  # "day" or "month"
    name: str
    limit_ticks: int
    resets_at: datetime

    @property
    def extra(self) -> str:
        return DAY_EXTRA if self.kind == "day" else MONTH_EXTRA


@dataclass(frozen=True)
class BudgetLimits:
    """What a connection may spend per day and per month (ticks; ``None``: no cap)."""

    conn_id: str
    per_day: int | None = None
    per_month: int | None = None
    timezone_name: str = "UTC"

    @property
    def any(self) -> bool:
        return self.per_day is not None or self.per_month is not None

    @classmethod
    def from_extra(cls, conn_id: str, extra: Mapping[str, Any]) -> BudgetLimits:
        """Read the extras; a bad value is an error naming the extra and the value."""
        per_day = _usd_ticks(conn_id, DAY_EXTRA, extra.get(DAY_EXTRA))
        per_month = _usd_ticks(conn_id, MONTH_EXTRA, extra.get(MONTH_EXTRA))
        name = str(extra.get(TIMEZONE_EXTRA) or "UTC").strip() or "UTC"
        _zone(conn_id, name)  # checked now, before any request
        return cls(conn_id, per_day, per_month, name)

    @property
    def zone(self) -> tzinfo:
        return _zone(self.conn_id, self.timezone_name)

    def periods(self, now: float) -> list[Period]:
        """The periods ``now`` (epoch seconds) falls in, for each cap set."""
        local = datetime.fromtimestamp(now, tz=timezone.utc).astimezone(self.zone)
        found: list[Period] = []
        if self.per_day is not None:
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            nxt = _midnight(start.date() + timedelta(days=1), self.zone)
            found.append(Period("day", f"day:{start:%Y-%m-%d}", self.per_day, nxt))
        if self.per_month is not None:
            year, month0 = divmod(local.year * 12 + local.month, 12)  # the next month, 0-based
            month = month0 + 1
            nxt = _midnight(local.date().replace(year=year, month=month, day=1), self.zone)
            found.append(Period("month", f"month:{local:%Y-%m}", self.per_month, nxt))
        return found


def _midnight(day: Any, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _usd_ticks(conn_id: str, name: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    try:
        return usd_to_ticks(value)
    except (TypeError, ValueError):
        raise GrokVideoError(
            f"connection {conn_id!r}: {name}={value!r} is not a number of US dollars "
            "(leave it out for no budget)"
        ) from None


def _zone(conn_id: str, name: str) -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise GrokVideoError(
            f"connection {conn_id!r}: {TIMEZONE_EXTRA}={name!r} is not a time zone name "
            "(for example 'UTC' or 'Europe/Paris')"
        ) from None
