"""The trigger that waits for a Grok video generation, in the triggerer's event loop.

One short loop per generation: read the status through the hook's shared pooled async client,
sleep as long as the upstream's own hints allow, and fire exactly one event when the
generation ends, the deadline passes or an error that waiting will not cure happens.

Poll spacing (:func:`next_poll_delay`) is a small pure function: where the upstream reports
``progress`` the trigger measures the rate between two answers and sleeps half of the estimated
remaining time (few polls early, frequent ones near the end); where it only gives its own
(conservative) ``estimated_seconds`` it sleeps a quarter of what is left of it; with no hint at
all it backs off gently from ``min_poll_interval`` toward ``poll_interval``.  Once the connection
has seen a few of its jobs finish, a wait without progress sleeps until the earliest plausible
end of its own job instead of polling a job that cannot be done yet.  Every delay is
shortened by a random share of up to :data:`POLL_SPREAD` (so that waits started together drift
apart), clamped within ``[min_poll_interval, max_poll_interval]`` and never runs past the
deadline.

Every status read goes through the connection's pacer (``hooks/pacer.py``, through the hook): the
key's request budget, shared by every wait of the connection in the loop, in due order.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_grokvideo.hooks import shared_video_hook
from airflow_provider_grokvideo.triggers.progress import WaitProgress

if TYPE_CHECKING:
    from airflow_provider_grokvideo.models import VideoGeneration

# One module logger rather than one per trigger (a busy triggerer holds thousands of them); the
# triggerer binds each trigger's task to its log records through context variables.
log = structlog.get_logger(logger_name=__name__)

#: Default spacing of polls, in seconds (see :func:`next_poll_delay`).
DEFAULT_POLL_INTERVAL = 20.0
DEFAULT_MIN_POLL_INTERVAL = 5.0
DEFAULT_MAX_POLL_INTERVAL = 120.0

#: Share of the remaining time (measured from the progress rate) slept before the next poll.
PROGRESS_FRACTION = 0.5
#: Share of the remaining time by the upstream's own estimate (known to be conservative: 600 s
#: announced for a job that took 265 s) slept before the next poll.
ESTIMATE_FRACTION = 0.25
#: Growth of the delay between polls when the upstream gives no hint.
BACKOFF_FACTOR = 1.5
#: The first poll waits min_poll_interval plus a random 0..min(min_poll_interval, this)
#: seconds: never sooner than min_poll_interval after the deferral (see ``wait``).
FIRST_POLL_JITTER = 1.0
#: Every later delay is shortened by a random share of up to this much (see ``spread``).
POLL_SPREAD = 0.2

#: Every poll after the first wakes on a grid of this many seconds of the loop's clock...
WAKE_GRID = 0.05
#: ...when its delay is at least this long (so that it is lengthened by less than a tenth).
WAKE_GRID_FROM = 0.5

#: The event statuses; every event carries ``status``, ``generation`` and ``message``.
EVENT_STATUSES = ("succeeded", "failed", "cancelled", "expired", "timeout", "error")


def on_wake_grid(now: float, delay: float) -> float:
    """``delay`` lengthened (by less than :data:`WAKE_GRID`) to end on the grid of ``now``'s clock.

    On a triggerer with a thousand waits a status read falls due every few milliseconds: each
    one a lone wake-up of the event loop, round trip and answer, which cost about a third more
    CPU per poll than reads woken together (``benchmarks/triggerer_load.py``).  On the grid, the
    waits due within one tick wake in one pass of the loop.  Delays below
    :data:`WAKE_GRID_FROM` are not moved (they would be lengthened by more than a tenth).
    """
    if delay < WAKE_GRID_FROM:
        return delay
    return max(delay, math.ceil((now + delay) / WAKE_GRID) * WAKE_GRID - now)


def next_poll_delay(
    *,
    now: float,
    deadline: float,
    polls: int,
    poll_interval: float,
    min_poll_interval: float,
    max_poll_interval: float,
    progress: int | None = None,
    estimated_seconds: float | None = None,
    created_at: float | None = None,
    first_progress: tuple[float, int] | None = None,
    spread: float = 1.0,
    started_at: float | None = None,
    shortest_seen: float | None = None,
) -> float:
    """Seconds to sleep before the next status read.  Pure: no clock, no I/O.

    :param now: unix time of the answer just read.
    :param deadline: unix time after which nobody waits any more.
    :param polls: status reads made so far (drives the back-off when there is no hint).
    :param progress: the upstream's progress (0..100) in the answer just read, if any.
    :param estimated_seconds: the upstream's estimate of the job's total run time, if any.
    :param created_at: unix time the upstream created the job, if known.
    :param first_progress: ``(time, progress)`` of the first answer that reported a progress
        above 0; with the current ``progress`` it gives the job's measured rate.
    :param spread: a factor within ``[1 - POLL_SPREAD, 1]`` that the caller draws at random.
        Waits that started together (a triggerer that starts with thousands of them) would
        otherwise keep polling in the same seconds, wave after wave: a load spike for the
        triggerer's loop and a burst of requests the upstream may rate-limit.  It only ever
        shortens a delay, so a video is never seen later than the hints allow.
    :param started_at: unix time the job started (``created_at`` where the upstream says,
        else when the wait began).
    :param shortest_seen: the shortest plausible run time, in seconds, of this connection's
        jobs, from those it has seen finish (``JobDurations.shortest``), if known.

    In order of trust:

    1. a measured progress rate: sleep :data:`PROGRESS_FRACTION` of the remaining time;
    2. progress seen once, no rate yet: a short probe (the back-off step) to measure it;
    3. before the earliest plausible end (``started_at + shortest_seen``): sleep until then,
       since no poll before it can see the video (when the budget is scarce, a poll spent
       there is taken from a wait that may be done); after it, the next rules, whose back-off
       restarts short since few polls were made: few polls before, then denser;
    4. the upstream's estimate and creation time: sleep :data:`ESTIMATE_FRACTION` of what is
       left of the estimate;
    5. nothing: ``min_poll_interval * BACKOFF_FACTOR ** polls``, at most ``poll_interval``.

    The result is clamped within ``[min_poll_interval, max_poll_interval]``, then multiplied by
    ``spread`` (but not below ``min_poll_interval``), and cut short so as never to sleep past
    ``deadline`` (0 when the deadline has come).
    """
    low = max(0.0, min_poll_interval)
    high = max(low, max_poll_interval)
    backoff = min(low * BACKOFF_FACTOR ** max(0, polls), max(low, poll_interval))

    delay: float
    if progress is not None and first_progress is not None and progress > first_progress[1]:
        first_at, first_value = first_progress
        elapsed = now - first_at
        if elapsed > 0:
            rate = (progress - first_value) / elapsed  # percent per second
            # Progress is usually a whole number, truncated: the job may be up to one point
            # further than it says, so count from there (near the end: poll at the minimum).
            delay = PROGRESS_FRACTION * max(0.0, 99 - progress) / rate
        else:
            delay = backoff
    elif progress:
        delay = backoff
    elif shortest_seen is not None and started_at is not None and started_at + shortest_seen > now:
        delay = started_at + shortest_seen - now
    elif estimated_seconds and created_at is not None and created_at + estimated_seconds > now:
        delay = ESTIMATE_FRACTION * (created_at + estimated_seconds - now)
    else:
        delay = backoff

    delay = max(min(max(delay, low), high) * spread, low)
    return max(0.0, min(delay, deadline - now))


def rate_anchor(
    anchor: tuple[float, int] | None, previous: int | None, now: float, progress: int | None
) -> tuple[float, int] | None:
    """The ``(time, progress)`` a job's progress rate is measured from (``next_poll_delay``'s
    ``first_progress``), after an answer reading ``progress`` at ``now`` where the answer
    before read ``previous``.  Pure.

    The first answer with a progress above 0; moved to the latest answer whose progress has not
    moved since the one before: a job that stood still (a queue or a pause upstream, a hold in
    the emulator) is then timed from where it stood, not from before the stall, which would
    make it look slower than it runs and stretch its last polls to ``max_poll_interval``.  A
    slow job whose whole-number progress did not move between two reads looks faster by as
    much: a few polls more near its end, never its video seen later.
    """
    if not progress:
        return anchor
    if anchor is None or progress == previous:
        return (now, progress)
    return anchor


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
        XComs pushed first, else the payload itself, for ``execute_complete`` on a worker."""
        if self.task_end is None:
            return TriggerEvent(payload)
        from airflow_provider_grokvideo.tasks.ending import RETURN_VALUE_KEY, push_xcoms, task_end

        try:
            end = task_end(payload, self.task_end, self.conn_id)
            if end is not None:
                await push_xcoms(self.task_end["task"], end[1])
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
            return TaskSuccessEvent()
        # This log is the task's log (its triggerer part), where the UI shows it.
        log.error("%s; the task ends %s here, in the triggerer", message, state)
        if state == "skipped":
            return TaskSkippedEvent()
        return TaskFailedEvent()

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
        from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy, is_transient_read_error

        try:
            hook = await shared_video_hook(self.conn_id)
        except Exception as exc:
            return self._payload("error", None, f"cannot use connection {self.conn_id!r}: {exc}")

        # Hold a lease on the loop's shared pooled client for the whole wait: every poll of
        # every trigger of this connection reuses its kept-alive connections.
        loop = asyncio.get_running_loop()  # its clock is the grid's (see on_wake_grid)
        async with hook.async_session():
            pacer = hook.pacer()  # the connection's budget and the durations of its jobs
            # From the deferral, also on a triggerer that took the trigger over.
            began = min(self.started_at or time.time(), time.time())
            last_running_at: float | None = None
            upstream = hook.dialect.name
            weather: RetryPolicy | None = None  # made on the first error only
            first_progress: tuple[float, int] | None = None
            last_progress: int | None = None
            last: VideoGeneration | None = None
            last_problem: str | None = None
            errors_in_a_row = 0
            progress_log = WaitProgress(started=began)  # a line at a few moments only
            # The task read the status just before deferring (check-before-defer), so the
            # first read waits min_poll_interval: an event fired seconds after the deferral
            # meets Airflow's stale defer-exit race (apache/airflow#72716).  A triggerer that
            # starts (or restarts) with many triggers would otherwise send all their first
            # polls at once: spread them a little.
            jitter = random.uniform(0.0, min(self.min_poll_interval, FIRST_POLL_JITTER))
            # Each read waits its delay in the connection's queue (see GrokVideoHook.aget_video);
            # the first one not sooner than min_poll_interval after the deferral.
            first = self.min_poll_interval + jitter
            delay = max(0.0, min(first, self.deadline - time.time()))
            while True:
                try:
                    generation = await hook.aget_video(self.generation_id, retry=False, after=delay)
                except Exception as exc:
                    self.polls += 1
                    if not is_transient_read_error(exc):
                        return self._payload("error", last, str(exc))
                    errors_in_a_row += 1
                    last_problem = str(exc)
                    if weather is None:
                        # Weather back-off: from min_poll_interval, doubling, at most
                        # max_poll_interval, or what the upstream asked for in Retry-After.
                        weather = RetryPolicy(
                            attempts=1_000_000,
                            initial_wait=max(self.min_poll_interval, 0.1),
                            max_wait=max(self.max_poll_interval, self.min_poll_interval, 0.1),
                        )
                    delay = weather.wait_for(errors_in_a_row, exc)
                    now = time.time()
                    if now >= self.deadline:
                        return self._timeout(last, last_problem)
                    delay = max(0.0, min(delay, self.deadline - now))
                    log.warning(
                        "%s: status of %s not readable (%s); next try in %.1fs",
                        upstream,
                        self.generation_id,
                        exc,
                        delay,
                    )
                    continue

                self.polls += 1
                errors_in_a_row = 0
                last_problem = None
                now = time.time()
                if last is None or generation.status != last.status:
                    log.info(
                        "%s: generation %s is %s", upstream, self.generation_id, generation.status
                    )
                last = generation
                started = generation.created_at or began
                progress_log.log(log.info, upstream, generation, now)
                if generation.is_terminal:
                    if generation.status == "succeeded" and last_running_at is not None:
                        pacer.durations.add(started, last_running_at, now)
                    return self._final(generation)
                last_running_at = now
                if now >= self.deadline:
                    return self._timeout(generation, last_problem)
                first_progress = rate_anchor(
                    first_progress, last_progress, now, generation.progress
                )
                last_progress = generation.progress
                delay = next_poll_delay(
                    now=now,
                    deadline=self.deadline,
                    polls=self.polls,
                    poll_interval=self.poll_interval,
                    min_poll_interval=self.min_poll_interval,
                    max_poll_interval=self.max_poll_interval,
                    progress=generation.progress,
                    estimated_seconds=generation.estimated_seconds,
                    created_at=generation.created_at,
                    first_progress=first_progress,
                    spread=random.uniform(1.0 - POLL_SPREAD, 1.0),
                    started_at=started,
                    shortest_seen=pacer.durations.shortest,
                )
                # Only while nothing limits the connection here (with a rate, a pause or a
                # shared budget, the pacer's queue times the reads), and not for the first read:
                # the first ones are spread on purpose (their jitter), and a connection without
                # a configured rate learns its budget from its first 429s, better from spread
                # reads than from bursts (benchmarks/rate_limit.py: with the grid on every
                # read, 6.9 % refused instead of 0.8 %; with a shared budget, p95 3x the floor).
                if pacer.shared is None and pacer.open():
                    delay = on_wake_grid(loop.time(), delay)
                log.debug("next status read of %s in %.1fs", self.generation_id, delay)

    # -- events ---------------------------------------------------------------------------
    def _payload(
        self, status: str, generation: VideoGeneration | None, message: str
    ) -> dict[str, Any]:
        return {
            "status": status,
            "generation_id": self.generation_id,
            "generation": generation.to_dict() if generation is not None else None,
            "message": message,
            # The connection polled (the one that made the video): the resumed task's result
            # names it, since the instance that deferred is gone.
            "conn_id": self.conn_id,
        }

    def _final(self, generation: VideoGeneration) -> dict[str, Any]:
        if generation.status == "succeeded":
            urls = ", ".join(generation.video_urls) or "no URL"
            message = f"generation {self.generation_id} succeeded: {urls}"
        else:
            from airflow_provider_grokvideo.exceptions import GenerationFailed

            message = str(
                GenerationFailed(
                    self.generation_id,
                    generation.status,
                    generation.error_code,
                    generation.error_message,
                )
            )
        return self._payload(generation.status, generation, message)

    def _timeout(self, last: VideoGeneration | None, problem: str | None) -> dict[str, Any]:
        state = "never answered readably"
        if last is not None:
            progress = f", {last.progress}%" if last.progress is not None else ""
            state = f"was still {last.status}{progress}"
        message = f"generation {self.generation_id} {state} at the deadline"
        if problem:
            message += f" (last problem: {problem})"
        return self._payload("timeout", last, message)
