"""What a submitting task asks its upstream for, prepared before anything is recorded or sent.

The generate operator and its edit and extension subclasses differ only in the hook call they
make; everything around it (the durable submit record, the cost cap, failover) is
:mod:`.submit`'s, once.  Each operator builds one :class:`UpstreamCall`: the
validated request (whose fingerprint the durable record keeps, and which ``hook.submit_call``
sends as it is) and its cost estimate.

Pure: no Airflow import (operators import this when their task runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_grokvideo.tasks.submit_record import request_fingerprint

if TYPE_CHECKING:
    from airflow_provider_grokvideo.dialects.base import HttpCall
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.pricing import CostEstimate


@dataclass(frozen=True)
class UpstreamCall:
    """One validated submit: ``call`` is the HTTP request it sends, ``estimate`` what it should
    cost (None where no price is known); ``model`` is the model asked for (None: the
    connection's, then the upstream's, default)."""

    call: HttpCall
    estimate: Callable[[], CostEstimate | None]
    model: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One connection a submit may go to (``conn_id``, then each of ``fallback_conn_ids``):
    its hook, the request in its upstream's dialect, and that request's cost estimate."""

    conn_id: str
    hook: GrokVideoHook
    upstream: UpstreamCall
    estimate: CostEstimate | None = None

    @property
    def fingerprint(self) -> str:
        call = self.upstream.call
        return request_fingerprint(call.method, call.path, call.json)

    @property
    def model(self) -> str | None:
        """The model the request names as sent (the dialect fills the default in), else the
        one asked for."""
        body = self.upstream.call.json
        sent = body.get("model") if isinstance(body, dict) else None
        return str(sent) if sent else self.upstream.model
