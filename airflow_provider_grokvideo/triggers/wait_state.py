"""What a wait decides after each status read: sleep how long, or end with which event.

:class:`WaitState` holds one wait's memory (the last answer, the progress rate's anchor, the
errors in a row) and turns each answer, or each failed read, into a :class:`Step`: the delay
before the next read, or the final event payload, with the log lines worth writing.  Pure: no
clock (every call is given ``now``), no randomness of its own (the caller draws the spread),
no I/O; the trigger's loop (``triggers.video``) only reads, sleeps and logs what it is told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy
from airflow_provider_grokvideo.triggers.polling import next_poll_delay, rate_anchor
from airflow_provider_grokvideo.triggers.progress import WaitProgress

if TYPE_CHECKING:
    from airflow_provider_grokvideo.models import VideoGeneration


@dataclass(frozen=True)
class Step:
    """One decision: read again after ``delay`` seconds, or end with ``payload``.

    :param delay: seconds before the next status read (``None`` when the wait ends).
    :param payload: the event payload that ends the wait (``None`` while it goes on).
    :param on_grid: whether the delay may be lengthened to the loop's wake grid (a delay drawn
        from the answer's hints; never a weather back-off, which honours ``Retry-After``).
    :param finished_job: ``(started, last seen running, seen done)``, unix times, of a job seen
        to succeed after running: what the connection learns of its jobs' durations.
    :param info: log lines for the task's log.
    :param warning: a log line for a read that failed and will be tried again.
    """

    delay: float | None = None
    payload: dict[str, Any] | None = None
    on_grid: bool = False
    finished_job: tuple[float, float, float] | None = None
    info: tuple[str, ...] = ()
    warning: str | None = None


@dataclass
class WaitState:
    """One wait's memory, and its decisions (see the module's docstring)."""

    generation_id: str
    conn_id: str
    upstream: str
    deadline: float
    poll_interval: float
    min_poll_interval: float
    max_poll_interval: float
    #: Unix time the wait began (the deferral, also on a triggerer that took it over).
    began: float
    #: Status reads made (answered or not).
    polls: int = 0
    last: VideoGeneration | None = None
    last_problem: str | None = None
    errors_in_a_row: int = 0
    last_running_at: float | None = None
    anchor: tuple[float, int] | None = None
    last_progress: int | None = None
    weather: RetryPolicy | None = None
    progress_log: WaitProgress = field(init=False)

    def __post_init__(self) -> None:
        self.progress_log = WaitProgress(started=self.began)

    def first_delay(self, now: float, jitter: float) -> float:
        """The delay of the first read: ``min_poll_interval`` plus ``jitter``.

        The task read the status just before deferring (check-before-defer), so the first read
        waits ``min_poll_interval``: an event fired seconds after the deferral meets Airflow's
        stale defer-exit race (apache/airflow#72716).  A triggerer that starts (or restarts)
        with many triggers would otherwise send all their first polls at once: the caller's
        ``jitter`` spreads them a little.
        """
        return max(0.0, min(self.min_poll_interval + jitter, self.deadline - now))

    def answered(
        self,
        generation: VideoGeneration,
        now: float,
        *,
        spread: Callable[[], float] = lambda: 1.0,
        shortest_seen: float | None = None,
    ) -> Step:
        """The step after a readable answer.  ``spread`` draws ``next_poll_delay``'s factor
        (only when a next read is planned); ``shortest_seen``: see ``next_poll_delay``."""
        self.polls += 1
        self.errors_in_a_row = 0
        self.last_problem = None
        info: list[str] = []
        if self.last is None or generation.status != self.last.status:
            info.append(f"{self.upstream}: generation {self.generation_id} is {generation.status}")
        self.last = generation
        started = generation.created_at or self.began
        line = self.progress_log.line(generation, now)
        if line:
            info.append(f"{self.upstream}: {line}")
        if generation.is_terminal:
            finished = None
            if generation.status == "succeeded" and self.last_running_at is not None:
                finished = (started, self.last_running_at, now)
            return Step(payload=self._final(generation), finished_job=finished, info=tuple(info))
        self.last_running_at = now
        if now >= self.deadline:
            return Step(payload=self._timeout(), info=tuple(info))
        self.anchor = rate_anchor(self.anchor, self.last_progress, now, generation.progress)
        self.last_progress = generation.progress
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
            first_progress=self.anchor,
            spread=spread(),
            started_at=started,
            shortest_seen=shortest_seen,
        )
        return Step(delay=delay, on_grid=True, info=tuple(info))

    def read_failed(self, error: BaseException, now: float, *, transient: bool) -> Step:
        """The step after a read that failed with ``error``: weather (``transient``: 429, 5xx,
        an unreadable answer, the network) is waited out until the deadline, backing off from
        ``min_poll_interval`` and doubling up to ``max_poll_interval``, or as long as the
        upstream's ``Retry-After`` asks; anything else (401, 404...) ends with ``error``."""
        self.polls += 1
        if not transient:
            return Step(payload=self.payload("error", self.last, str(error)))
        self.errors_in_a_row += 1
        self.last_problem = str(error)
        if self.weather is None:  # made on the first error only
            self.weather = RetryPolicy(
                attempts=1_000_000,
                initial_wait=max(self.min_poll_interval, 0.1),
                max_wait=max(self.max_poll_interval, self.min_poll_interval, 0.1),
            )
        if now >= self.deadline:
            return Step(payload=self._timeout())
        delay = self.weather.wait_for(self.errors_in_a_row, error)
        delay = max(0.0, min(delay, self.deadline - now))
        warning = (
            f"{self.upstream}: status of {self.generation_id} not readable ({error}); "
            f"next try in {delay:.1f}s"
        )
        return Step(delay=delay, warning=warning)

    # -- the event payloads -------------------------------------------------------------------
    def payload(
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
        return self.payload(generation.status, generation, message)

    def _timeout(self) -> dict[str, Any]:
        last, state = self.last, "never answered readably"
        if last is not None:
            progress = f", {last.progress}%" if last.progress is not None else ""
            state = f"was still {last.status}{progress}"
        message = f"generation {self.generation_id} {state} at the deadline"
        if self.last_problem:
            message += f" (last problem: {self.last_problem})"
        return self.payload("timeout", last, message)
