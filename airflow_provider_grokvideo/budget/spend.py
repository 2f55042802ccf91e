"""What a task calls around a paid request: reserve the estimate, then settle or release it.

:class:`SpendBudget` is the face of one connection's ledger (:mod:`.ledger`) with an injected
clock: :meth:`~SpendBudget.reserve` before the POST (refusing, unsent, what does not fit),
:meth:`~SpendBudget.settle` once the job exists (at the estimate, then again at the billed cost
when the upstream reports one: the second corrects the first), :meth:`~SpendBudget.release` when
the request surely created no job (``hooks.outcomes.may_have_created_a_job``, as the durable submit
record's journal applies it).  Reservations are named by the task instance's submit identity, so
a retry of the same request finds its reservation instead of counting it twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.budget.periods import BudgetLimits, Period
from airflow_provider_grokvideo.budget.stores import (
    LedgerStore,
    ProcessStore,
    RedisStore,
    ledger_name,
    log_per_process,
)
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.pricing import format_usd, ticks_to_usd

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook

#: How long a reservation holds without being settled or released: a job is billed within a
#: day (an xAI batch within 24 hours), so two days.  Then it counts as spent at its estimate.
RESERVATION_SECONDS = 2 * 86_400.0


class BudgetExceeded(GrokVideoError):
    """A paid request refused before sending: it does not fit its connection's spend budget."""


@dataclass(frozen=True)
class PeriodSpend:
    """One period of a budget as the ledger has it now."""

    period: Period
    spent_ticks: int
    reserved_ticks: int

    @property
    def left_ticks(self) -> int:
        return max(0, self.period.limit_ticks - self.spent_ticks - self.reserved_ticks)

    def to_dict(self) -> dict[str, Any]:
        usd = lambda ticks: float(ticks_to_usd(ticks))  # noqa: E731
        return {
            "period": self.period.name,
            "budget_usd": usd(self.period.limit_ticks),
            "spent_usd": usd(self.spent_ticks),
            "reserved_usd": usd(self.reserved_ticks),
            "resets_at": self.period.resets_at.isoformat(),
        }


@dataclass
class SpendBudget:
    """One connection's spend budget over its ledger."""

    limits: BudgetLimits
    store: LedgerStore
    clock: Callable[[], float] = time.time
    lifetime: float = RESERVATION_SECONDS
    _periods: list[Period] = field(default_factory=list, repr=False)

    @property
    def conn_id(self) -> str:
        return self.limits.conn_id

    def _run(self, op: str, ident: str, ticks: int = 0, alias: str = "") -> list[str]:
        now = self.clock()
        self._periods = self.limits.periods(now)
        pairs = [text for p in self._periods for text in (p.name, str(p.limit_ticks))]
        args = [op, ident, str(ticks), f"{now:.3f}", f"{self.lifetime:.3f}", alias, *pairs]
        return self.store.run(args)

    def _spends(self, answer: list[str], skip: int) -> list[PeriodSpend]:
        rest = answer[skip:]
        return [
            PeriodSpend(period, int(rest[3 * i + 1]), int(rest[3 * i + 2]))
            for i, period in enumerate(self._periods)
        ]

    def reserve(self, ident: str, ticks: int | None, what: str) -> bool:
        """Reserve ``ticks`` for ``what`` under ``ident``; True when newly reserved, False when
        ``ident`` already held its reservation (a retry).  Raises :class:`BudgetExceeded`
        naming the budget, what is spent and reserved, and when it resets."""
        if ticks is None:
            raise BudgetExceeded(
                f"connection {self.conn_id!r} has a spend budget, but no price is known for "
                f"{what}, so it cannot be checked; set the price in the connection's extra "
                "'prices' (US dollars per second); nothing was sent"
            )
        answer = self._run("reserve", ident, ticks)
        if answer[0] == "refused":
            name = answer[1]
            period = next(p for p in self._periods if p.name == name)
            limit, spent, reserved = (int(x) for x in answer[2:5])
            left = max(0, limit - spent - reserved)
            raise BudgetExceeded(
                f"connection {self.conn_id!r}: {what}, estimated at "
                f"{format_usd(ticks_to_usd(ticks))}, does not fit its {period.extra} of "
                f"{format_usd(ticks_to_usd(limit))} ({period.name}, "
                f"{self.limits.timezone_name}): "
                f"{format_usd(ticks_to_usd(spent))} spent and "
                f"{format_usd(ticks_to_usd(reserved))} reserved, {format_usd(ticks_to_usd(left))}"
                f" left; it resets at {_when(period.resets_at)}; nothing was sent"
            )
        return answer[0] == "reserved"

    def settle(self, ident: str, ticks: int, alias: str = "") -> None:
        """Count ``ticks`` as spent for ``ident`` (its reservation ends; settling again
        corrects the earlier count).  ``alias``: the id later settlements use (``gen:<id>``)."""
        self._run("settle", ident, ticks, alias)

    def release(self, ident: str) -> bool:
        """Drop ``ident``'s reservation: its request surely created no job."""
        return self._run("release", ident)[0] == "released"

    def status(self) -> list[PeriodSpend]:
        return self._spends(self._run("status", ""), 1)


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


def generation_alias(generation_id: str) -> str:
    """The ledger id a job's settled cost is kept under, once its generation id is known."""
    return f"gen:{generation_id}"


def budget_for(hook: GrokVideoHook, clock: Callable[[], float] = time.time) -> SpendBudget | None:
    """The spend budget of the hook's connection (``None``: it sets none).  In the Redis of
    the connection's ``redis_conn_id`` extra when it names one, else in this process."""
    hook.settings  # noqa: B018  (loads the connection once, for the hook and for this)
    conn = hook._connection or hook.get_connection(hook.conn_id)
    limits = BudgetLimits.from_extra(hook.conn_id, conn.extra_dejson or {})
    if not limits.any:
        return None
    settings = hook.budget_store
    store: LedgerStore
    if settings is not None:
        store = RedisStore(settings, ledger_name(hook.conn_id))
    else:
        log_per_process(hook.conn_id)
        store = ProcessStore(ledger_name(hook.conn_id))
    return SpendBudget(limits, store, clock)


@dataclass
class Reservation:
    """One paid request's money, held in its connection's ledger from before the POST."""

    budget: SpendBudget
    ident: str
    ticks: int

    def release(self, log: Any) -> None:
        """The request surely created no job: its money is free again."""
        try:
            self.budget.release(self.ident)
        except GrokVideoError as exc:  # held until its lifetime ends: counted, never lost
            log.warning("could not release the budget reservation %s: %s", self.ident, exc)

    def created(self, generation_id: str, log: Any) -> None:
        """The job exists: count it at its estimate until its bill is known."""
        try:
            self.budget.settle(self.ident, self.ticks, alias=generation_alias(generation_id))
        except GrokVideoError as exc:  # held until its lifetime ends, then counted
            log.warning("could not settle the budget reservation %s: %s", self.ident, exc)


def reserve_submit(
    hook: GrokVideoHook, ticks: int | None, ident: str, what: str, log: Any
) -> Reservation | None:
    """Reserve a paid request's estimate on its connection's budget (``None``: the connection
    has none).  Raises :class:`BudgetExceeded` (nothing sent) when it does not fit, and
    ``SpendStoreDown`` when the shared ledger cannot be read."""
    budget = budget_for(hook)
    if budget is None:
        return None
    fresh = budget.reserve(ident, ticks, what)
    assert ticks is not None  # reserve() refuses a request without a price
    spends = ", ".join(
        f"{s.period.name}: {format_usd(ticks_to_usd(s.spent_ticks))} spent, "
        f"{format_usd(ticks_to_usd(s.reserved_ticks))} reserved of "
        f"{format_usd(ticks_to_usd(s.period.limit_ticks))}"
        for s in budget.status()
    )
    log.info(
        "%s %s on the spend budget of connection %s (%s; %s)",
        "Reserved" if fresh else "Still holding the earlier try's reservation of",
        format_usd(ticks_to_usd(ticks)),
        hook.conn_id,
        spends,
        "shared by every process" if budget.store.shared else "held in this process only",
    )
    return Reservation(budget, ident, ticks)


def settle_billed(hook: GrokVideoHook, generation_id: str, ticks: int | None, log: Any) -> None:
    """The upstream billed ``ticks`` for the generation: correct its count (best effort: the
    video is made, a ledger that cannot be read keeps the estimate)."""
    if ticks is None:
        return
    try:
        budget = budget_for(hook)
        if budget is not None:
            budget.settle(generation_alias(generation_id), ticks)
    except Exception as exc:  # the video is made: never fail its wait over the ledger
        log.warning("could not settle generation %s on its budget: %s", generation_id, exc)
