"""The trigger that waits for a Grok video generation, in the triggerer's event loop.

One short loop per generation: read the status through the hook's shared pooled async client,
sleep as long as the wait's decisions say (``triggers.wait_state``: pure, from the upstream's
own hints, ``triggers.polling``), and fire exactly one event when the generation ends, the
deadline passes or an error that waiting will not cure happens.

Every status read goes through the connection's pacer (``hooks/pacer.py``, through the hook): the
key's request budget, shared by every wait of the connection in the loop, in due order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_grokvideo.hooks import shared_video_hook
from airflow_provider_grokvideo.triggers.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    FIRST_POLL_JITTER,
    POLL_SPREAD,
    on_wake_grid,
)
from airflow_provider_grokvideo.triggers.wait_state import WaitState

# One module logger rather than one per trigger (a busy triggerer holds thousands of them); the
# triggerer binds each trigger's task to its log records through context variables.
log = structlog.get_logger(logger_name=__name__)

#: The event statuses; every event carries ``status``, ``generation`` and ``message``.
EVENT_STATUSES = ("succeeded", "failed", "cancelled", "expired", "timeout", "error")


class GrokVideoTrigger(BaseTrigger):
    """Wait, without a worker, until a Grok video generation ends.

    :param conn_id: the Airflow connection of the upstream (its type picks the hook); the
        connection is read once, with Airflow's async lookup.
    :param generation_id: the upstream's job id (xcompute task id, Mountsea ``taskId``, xAI
        ``request_id``).
    :param deadline: unix time (wall clock, so that a trigger moved to another triggerer keeps
        it) after which the trigger gives up with a ``timeout`` event.
    :param poll_interval: the longest back-off step when the upstream gives no hint.
    :param min_poll_interval: the shortest delay between two status reads.
    :param max_poll_interval: the longest delay between two status reads, whatever the hints.
    :param started_at: unix time (wall clock) the wait began, at the deferral; the trigger's
        progress lines count the time waited from it, and its job durations start there, so
        that a trigger taken over by another triggerer goes on from where the wait is, not
        from the take-over (default: when this instance starts waiting).
    :param task_end: how to end the task here rather than on a worker
        (``tasks.ending.task_end_spec``: the cost estimate, the task's links; no secret), or
        ``None`` (default) to resume the task on a worker with the event.

    With ``task_end``, a generation that ended (or the deadline) ends the task from here:
    ``TaskSuccessEvent`` with the XComs its worker would push (``tasks.ending``),
    ``TaskFailedEvent`` (the upstream's code and message in this log, which is the task's), or
    ``TaskSkippedEvent`` for a sensor with ``soft_fail``.  Anything else (an ``error`` event,
    an answer it cannot read) resumes the task on a worker as without it.  Airflow submits an
    event only to a task still deferred on this trigger: one that two triggerers both fire
    ends the task once.

    Otherwise it fires exactly one event, then returns::

        {"status": "succeeded" | "failed" | "cancelled" | "expired" | "timeout" | "error",
         "generation_id": "...", "generation": VideoGeneration.to_dict() or None,
         "message": "..."}

    429, 5xx, unreadable answers and network errors are weather: it backs off (honouring
    ``Retry-After``) and goes on until the deadline.  Any other error (401, 404...) ends it
    with an ``error`` event.  Its reads go through the connection's pacer: a 429 slows (and
    its ``Retry-After`` pauses) every wait of the connection.

    Several triggerers: when one dies, another takes its triggers over, and for a moment
    (the dead one's heartbeat not yet stale, or a triggerer back from a pause) two may run the
    same trigger.  Both only read the status; each fires the same event from the upstream's
    same final answer, and Airflow resumes the task once (the second event finds no deferred
    task).  Neither ever cancels the upstream job: on Airflow 3.3 a triggerer whose triggers
    were reassigned calls ``on_kill()`` on them as it lets them go (apache/airflow#73454), so
    this trigger keeps Airflow's no-op ``on_kill`` and its clean-up only returns its lease on
    the loop's pooled client; the new owner's wait is untouched.
    """

    def __init__(
        self,
        conn_id: str,
        generation_id: str,
        deadline: float,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_poll_interval: float = DEFAULT_MIN_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        started_at: float | None = None,
        task_end: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.generation_id = str(generation_id)
        self.deadline = float(deadline)
        self.poll_interval = float(poll_interval)
        self.min_poll_interval = float(min_poll_interval)
        self.max_poll_interval = float(max_poll_interval)
        self.started_at = float(started_at) if started_at is not None else None
        self.task_end = task_end
        #: Status reads made by this instance (for logs and the load benchmark).
        self.polls = 0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "generation_id": self.generation_id,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "min_poll_interval": self.min_poll_interval,
                "max_poll_interval": self.max_poll_interval,
                **({"started_at": self.started_at} if self.started_at is not None else {}),
                **({"task_end": self.task_end} if self.task_end is not None else {}),
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield await self.event(await self.wait())

    async def event(self, payload: dict[str, Any]) -> TriggerEvent:
        """The event for the final ``payload``: one that ends the task (``task_end``), its
        values pushed first and its links carried by the event (``tasks.ending``), else the
        payload itself, for ``execute_complete`` on a worker."""
        if self.task_end is None:
            return TriggerEvent(payload)
        from airflow_provider_grokvideo.tasks.ending import (
            RETURN_VALUE_KEY,
            carried_by_the_event,
            push_xcoms,
            task_end,
        )

        carried: dict[str, Any] = {}
        try:
            end = task_end(payload, self.task_end, self.conn_id)
            if end is not None:
                pushed, carried = carried_by_the_event(end[1])
                await push_xcoms(self.task_end["task"], pushed)
                await self._settle_billed(end[1].get(RETURN_VALUE_KEY))
        except Exception:
            # Never lose an ending: the worker builds the same XComs from the payload.
            log.exception("cannot end the task of %s here; resuming it", self.generation_id)
            end = None
        if end is None:
            log.info("generation %s: resuming the task on a worker", self.generation_id)
            return TriggerEvent(payload)
        state = end[0]
        from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

        message = payload.get("message")
        if state == "success":
            log.info("%s; the task ends here, in the triggerer", message)
            return TaskSuccessEvent(xcoms=carried or None)
        # This log is the task's log (its triggerer part), where the UI shows it.
        log.error("%s; the task ends %s here, in the triggerer", message, state)
        if state == "skipped":
            return TaskSkippedEvent(xcoms=carried or None)
        return TaskFailedEvent(xcoms=carried or None)

    async def _settle_billed(self, result: Any) -> None:
        """Count the bill of a video this trigger saw succeed on its connection's spend budget,
        as the worker's ending does (``budget.spend.settle_billed``).  Only a budget shared in
        Redis: one held per process lives in the worker that reserved it, not here."""
        if not isinstance(result, dict) or result.get("cost_source") != "billed":
            return
        from airflow_provider_grokvideo.budget.spend import settle_billed

        try:
            hook = await shared_video_hook(self.conn_id)
            if hook.budget_store is not None:
                generation_id, ticks = str(result.get("generation_id")), result.get("cost_ticks")
                await asyncio.to_thread(settle_billed, hook, generation_id, ticks, log)
        except Exception as exc:  # the video is made: its ending never waits on the ledger
            log.warning("could not settle %s on its spend budget: %s", self.generation_id, exc)

    async def wait(self) -> dict[str, Any]:
        """The loop of :meth:`run`: returns the one event payload."""
        from airflow_provider_grokvideo.hooks.outcomes import is_transient_read_error

        state = WaitState(
            generation_id=self.generation_id,
            conn_id=self.conn_id,
            upstream="",
            deadline=self.deadline,
            poll_interval=self.poll_interval,
            min_poll_interval=self.min_poll_interval,
            max_poll_interval=self.max_poll_interval,
            # From the deferral, also on a triggerer that took the trigger over.
            began=min(self.started_at or time.time(), time.time()),
        )
        try:
            hook = await shared_video_hook(self.conn_id)
        except Exception as exc:
            return state.payload("error", None, f"cannot use connection {self.conn_id!r}: {exc}")
        state.upstream = hook.dialect.name
        loop = asyncio.get_running_loop()  # its clock is the grid's (see on_wake_grid)
        # Hold a lease on the loop's shared pooled client for the whole wait: every poll of
        # every trigger of this connection reuses its kept-alive connections.
        async with hook.async_session():
            pacer = hook.pacer()  # the connection's budget
            durations = hook.runtime().durations  # of the connection's finished jobs
            jitter = random.uniform(0.0, min(self.min_poll_interval, FIRST_POLL_JITTER))
            delay = state.first_delay(time.time(), jitter)
            while True:
                # Each read waits its delay in the connection's queue (GrokVideoHook.aget_video).
                try:
                    generation = await hook.aget_video(self.generation_id, retry=False, after=delay)
                except Exception as exc:
                    transient = is_transient_read_error(exc)
                    step = state.read_failed(exc, time.time(), transient=transient)
                else:
                    step = state.answered(
                        generation,
                        time.time(),
                        spread=lambda: random.uniform(1.0 - POLL_SPREAD, 1.0),
                        shortest_seen=durations.shortest,
                    )
                self.polls = state.polls
                for line in step.info:
                    log.info("%s", line)
                if step.warning:
                    log.warning("%s", step.warning)
                if step.payload is not None:
                    if step.finished_job is not None:
                        durations.add(*step.finished_job)
                    return step.payload
                assert step.delay is not None
                delay = step.delay
                # Only while nothing limits the connection here (with a rate, a pause or a
                # shared budget, the pacer's queue times the reads), and not for the first read:
                # the first ones are spread on purpose (their jitter), and a connection without
                # a configured rate learns its budget from its first 429s, better from spread
                # reads than from bursts (benchmarks/rate_limit.py: with the grid on every
                # read, 6.9 % refused instead of 0.8 %; with a shared budget, p95 3x the floor).
                if step.on_grid and pacer.shared is None and pacer.open():
                    delay = on_wake_grid(loop.time(), delay)
                log.debug("next status read of %s in %.1fs", self.generation_id, delay)
