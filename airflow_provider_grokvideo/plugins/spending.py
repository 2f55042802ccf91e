"""Each connection's spend for the current period against its budget, for the page.

The connections are the deployment's own (the metadata database's and the API server's
``AIRFLOW_CONN_*``), set by whoever may edit connections: a task's words choose nothing here.
A ledger in the deployment's Redis (``redis_conn_id``) is read with the budget's own script
(``status``: nothing changes but lapsed reservations); a budget held per process has no ledger
the API server could see, which the page says.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_grokvideo.budget.periods import BUDGET_EXTRAS

log = logging.getLogger(__name__)


@dataclass
class ConnectionSpend:
    conn_id: str
    periods: list[dict[str, Any]] = field(default_factory=list)
    #: Why no figures are shown (per process, store down, bad extras), else None.
    unseen: str | None = None


def _connections() -> list[Any]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    found: dict[str, Any] = {}
    for name, value in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and "budget_usd_per_" in value:
            conn_id = name[len("AIRFLOW_CONN_") :].lower()
            try:
                found[conn_id] = (
                    Connection.from_json(value, conn_id=conn_id)
                    if value.lstrip().startswith("{")
                    else Connection(conn_id=conn_id, uri=value)
                )
            except Exception as exc:
                log.warning("connection %s unreadable for the spend budget: %s", conn_id, exc)
    with create_session(scoped=False) as session:
        rows = session.scalars(
            select(Connection).where(Connection.conn_type.like("grokvideo_%"))
        ).all()
        for conn in rows:
            found.setdefault(conn.conn_id, conn)
            conn.extra_dejson  # noqa: B018  (read while the session is open)
    return [found[name] for name in sorted(found)]


def connection_spends() -> list[ConnectionSpend]:
    """Every grokvideo connection with a budget, with its current period's figures."""
    from airflow_provider_grokvideo.budget.periods import BudgetLimits
    from airflow_provider_grokvideo.budget.spend import SpendBudget
    from airflow_provider_grokvideo.budget.stores import RedisStore, ledger_name
    from airflow_provider_grokvideo.hooks.shared_budget import STORE_EXTRA, read_store

    shown = []
    for conn in _connections():
        extra = conn.extra_dejson or {}
        if not any(name in extra for name in BUDGET_EXTRAS[:2]):
            continue
        spend = ConnectionSpend(conn.conn_id)
        shown.append(spend)
        try:
            limits = BudgetLimits.from_extra(conn.conn_id, extra)
            store_id = str(extra.get(STORE_EXTRA) or "").strip()
            if not store_id:
                spend.unseen = "held in each worker process (no redis_conn_id): not visible here"
                continue
            store = RedisStore(read_store(store_id), ledger_name(conn.conn_id))
            spend.periods = [s.to_dict() for s in SpendBudget(limits, store).status()]
        except Exception as exc:
            spend.unseen = f"not readable now: {exc}"
    return shown
