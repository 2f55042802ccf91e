"""The trigger of :class:`~airflow_provider_grokvideo.operators.batch.GrokVideoBatchOperator`:
wait in the triggerer until an xAI batch has results the task has not stored yet.

Each poll is one read of the batch's counters (``GET /v1/batches/{id}``), however many videos
the batch holds.  The trigger fires as soon as more requests have finished than the task had
seen (``known``): the task then lists and stores the new results, whose URLs live one hour,
and defers again with the new count.  So a result waits at most one poll interval plus one
store round before it is stored, however long the batch runs, and the triggerer never holds a
video: it reads counters only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_grokvideo.dialects.xai_batch import (
    DEFAULT_BATCH_POLL_INTERVAL,
    batch_event,
)

__all__ = ["DEFAULT_BATCH_POLL_INTERVAL", "GrokVideoBatchTrigger", "batch_event"]


class GrokVideoBatchTrigger(BaseTrigger):
    """Fire when an xAI batch has new results, is done, or the deadline passed.

    :param conn_id: the xAI connection (the key is read from it in the triggerer, never carried
        in these arguments).
    :param batch_id: the batch.
    :param known: results (succeeded + failed) the task has already listed.
    :param deadline: unix time after which it fires ``timeout``.
    :param poll_interval: seconds between two counter reads.

    Fires one event ``{"status": "results" | "done" | "timeout" | "error", "batch": {...} or
    None, "message"}``.  Errors that may pass (429, 5xx, network) are retried at the next poll
    until the deadline; others fire ``error``.  It never cancels the batch: Airflow 3.3 calls
    a trigger's ``on_kill`` and cleanup also as a triggerer lets it go to another triggerer
    (apache/airflow#73454), which must not cost the user their batch; the task's own
    ``on_kill`` (a user's kill of the task on a worker) and its timeout cancel it.
    """

    def __init__(
        self,
        conn_id: str,
        batch_id: str,
        known: int,
        deadline: float,
        poll_interval: float = DEFAULT_BATCH_POLL_INTERVAL,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.batch_id = batch_id
        self.known = int(known)
        self.deadline = float(deadline)
        self.poll_interval = float(poll_interval)
        self.polls = 0
        #: Injected by tests: the wall clock (the deadline is wall time, as the task's).
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], Any] = asyncio.sleep

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "batch_id": self.batch_id,
                "known": self.known,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self.wait())

    async def wait(self) -> dict[str, Any]:
        from airflow_provider_grokvideo.hooks import shared_video_hook
        from airflow_provider_grokvideo.hooks.outcomes import is_transient_read_error

        try:
            hook: Any = await shared_video_hook(self.conn_id)
        except Exception as exc:
            return _error(f"cannot use connection {self.conn_id!r}: {exc}")
        if not hasattr(hook, "aget_batch"):
            return _error(f"connection {self.conn_id!r} is not an xAI connection")
        async with hook.async_session():
            while True:
                self.polls += 1
                try:
                    batch = await hook.aget_batch(self.batch_id)
                except Exception as exc:
                    if not is_transient_read_error(exc):
                        return _error(f"reading batch {self.batch_id}: {exc}")
                    self.log.warning("batch %s: %s; trying again", self.batch_id, exc)
                    if self.clock() >= self.deadline:
                        return {"status": "timeout", "batch": None, "message": str(exc)}
                else:
                    event = batch_event(batch, self.known, self.clock(), self.deadline)
                    if event is not None:
                        return event
                await self.sleep(max(0.0, min(self.poll_interval, self.deadline - self.clock())))


def _error(message: str) -> dict[str, Any]:
    return {"status": "error", "batch": None, "message": message}
