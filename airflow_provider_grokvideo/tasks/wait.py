"""Waiting for a generation to end: the one place shared by the sensor and the generate
operator's ``wait_for_completion`` mode.

- :meth:`GenerationWaitMixin._wait_in_triggerer` reads the status once on the worker and
  finishes there when the generation has already ended; only a generation still running is
  deferred to :class:`~airflow_provider_grokvideo.triggers.video.GrokVideoTrigger`.  A trigger
  that fires seconds after its deferral meets Airflow's stale defer-exit race
  (apache/airflow#72716): the scheduler can take the deferring process's exit for the new try's
  and fail a finished wait.  Checking first keeps finished work off that path.
- Where Airflow allows it (``compat.TRIGGER_CAN_END_TASKS``) and ``end_from_trigger`` is not
  False, the trigger ends the task itself when the generation ends, with the XComs this task's
  worker would push (:mod:`airflow_provider_grokvideo.tasks.ending`): no second worker start.
- :meth:`GenerationWaitMixin.execute_complete` maps the trigger's event (with
  ``end_from_trigger=False``, on an older Airflow, or after an event the triggerer could not
  decide): only a succeeded generation gets through; failed, cancelled and expired raise
  :class:`GrokVideoGenerationFailed` (no retries), a timeout is an ``AirflowSensorTimeout``,
  anything else an ``AirflowException``.
- :meth:`GenerationWaitMixin._read_once` and :meth:`GenerationWaitMixin._outcome` are one
  status read and its meaning, for the worker-side polling of both tasks.
- :meth:`GenerationWaitMixin._follow_record` polls the connection that made the video: a
  generate task with ``fallback_conn_ids`` may have submitted through another connection than
  its first, and its ``grokvideo`` record names the one it used; the sensor fed by that task's
  XCom reads it, so that nobody needs to know which connection it was.

DAG files import this module through the operators on every parse: it imports no hook, no
HTTP client and no trigger at module level.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_grokvideo.compat import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
)
from airflow_provider_grokvideo.exceptions import GenerationFailed
from airflow_provider_grokvideo.statuses import FAILED_STATUSES

# The poll spacing alone (pure, light): importing an operator does not import the trigger.
from airflow_provider_grokvideo.triggers.polling import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import Logger

    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.models import VideoGeneration

#: Seconds a wait gives a generation before it times out (the `timeout` argument).
DEFAULT_WAIT_TIMEOUT = 60 * 60.0
#: Airflow's own deferral timeout is set this much after the trigger's deadline, as a safety
#: net only: the trigger reports its own timeout first.
DEFERRAL_GRACE_SECONDS = 120.0
#: How much of a one-task wait's prompt its record keeps (the trigger's kwargs carry it).
RECORD_PROMPT_CHARS = 300
#: The payloads of Airflow's task-end events (``TaskSuccessEvent`` ...): a task resumed with one
#: was ended by its trigger (see ``_resume_after_task_end``).
TASK_END_STATES = ("success", "failed", "skipped")


class GrokVideoGenerationFailed(AirflowFailException, GenerationFailed):
    """The upstream ended the generation without a video (failed, cancelled or expired).

    An :class:`~airflow.sdk.exceptions.AirflowFailException` (retrying the wait cannot change
    the upstream's answer) and a
    :class:`~airflow_provider_grokvideo.exceptions.GenerationFailed`, carrying
    ``generation_id``, ``status``, ``error_code`` and ``error_message``.
    """

    def __init__(
        self,
        message: str,
        *,
        generation_id: str = "",
        status: str = "failed",
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        Exception.__init__(self, message)
        self.generation_id = generation_id
        self.status = status
        self.error_code = error_code
        self.error_message = error_message

    @classmethod
    def from_generation(cls, generation: VideoGeneration) -> GrokVideoGenerationFailed:
        text = str(
            GenerationFailed(
                generation.generation_id,
                generation.status,
                generation.error_code,
                generation.error_message,
            )
        )
        return cls(
            text,
            generation_id=generation.generation_id,
            status=generation.status,
            error_code=generation.error_code,
            error_message=generation.error_message,
        )


class StatusRead(NamedTuple):
    """One status read on the worker: the generation, or ``None`` and how long the upstream
    asked us to wait (``Retry-After``) when the read met weather."""

    generation: VideoGeneration | None
    retry_after: float = 0.0


def source_task_id(value: Any) -> str | None:
    """The id of the task whose return value ``value`` is (``generate.output``), else None."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    if isinstance(value, PlainXComArg) and value.key == "return_value":
        return str(value.operator.task_id)
    return None


def mapped_source_task_id(task: Any, field: str) -> str | None:
    """:func:`source_task_id` of ``field`` for a mapped task (``.expand(generation_id=
    generate.output)``): each mapped instance is built from the values already resolved, so the
    XCom reference is read from the DAG's mapped operator instead."""
    try:
        dag = task.dag if task.has_dag() else None
        mapped = dag.get_task(task.task_id) if dag is not None else None
        specified = getattr(mapped, "_get_specified_expand_input", None)
        expanded = getattr(specified(), "value", None) if specified is not None else None
    except Exception:
        return None
    values = [expanded, getattr(mapped, "partial_kwargs", None)]
    for kwargs in values:
        if isinstance(kwargs, Mapping) and field in kwargs:
            return source_task_id(kwargs[field])
    return None


def seconds(value: float | timedelta, name: str) -> float:
    result = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if result < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return result


class GenerationWaitMixin:
    """Waiting for one generation, for an operator that sets ``conn_id``, ``poll_interval``,
    ``min_poll_interval``, ``max_poll_interval`` and ``timeout`` (seconds)."""

    if TYPE_CHECKING:
        log: Logger
        conn_id: str
        timeout: float

        def defer(
            self,
            *,
            trigger: Any,
            method_name: str,
            kwargs: dict[str, Any] | None = None,
            timeout: timedelta | None,
        ) -> Any: ...

    poll_interval: float
    min_poll_interval: float
    max_poll_interval: float
    _grokvideo_hook: GrokVideoHook | None = None
    #: The connection the wait polls when it is not ``conn_id``: the one that made the video
    #: (a failed-over submit), set before the first read (see :meth:`_follow_record`).
    _polled_conn_id: str | None = None
    #: The task whose return value is the generation id waited for (the generate task).
    _generation_task_id: str | None = None
    _record_followed: bool = False
    #: The generate task's cost estimate (``CostEstimate.to_dict()``), carried into the result
    #: where the upstream bills nothing itself (see ``tasks.costs.with_estimate``).
    cost_estimate: Any = None
    #: Whether ``cost_estimate`` is this task's own (the generate task waiting itself), to keep
    #: in its finished record; the sensor's is the generate task's, already in that task's.
    _estimate_is_own: bool = False
    #: End the task in the triggerer when the generation ends (``None``: where Airflow can,
    #: see ``compat.TRIGGER_CAN_END_TASKS``); ``False`` resumes it on a worker, as before.
    end_from_trigger: bool | None = None
    #: A failed generation or a timeout skips the task (a sensor's ``soft_fail``).
    _skips_on_failure: bool = False

    def _own_estimate(self) -> dict[str, Any] | None:
        estimate = self.cost_estimate
        return dict(estimate) if self._estimate_is_own and isinstance(estimate, dict) else None

    def _own_prompt(self) -> str | None:
        """The start of the one-task wait's own prompt, for its record (which replaces the
        submit's): what the page and a review show of the video."""
        prompt = getattr(self, "prompt", None)
        if not self._estimate_is_own or not isinstance(prompt, str):
            return None
        # The trigger's kwargs carry it: a few hundred characters at most.
        return prompt if len(prompt) <= RECORD_PROMPT_CHARS else prompt[:RECORD_PROMPT_CHARS] + "…"

    def _set_poll_settings(
        self,
        poll_interval: float | timedelta,
        min_poll_interval: float | timedelta,
        max_poll_interval: float | timedelta,
    ) -> None:
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.min_poll_interval = seconds(min_poll_interval, "min_poll_interval")
        self.max_poll_interval = seconds(max_poll_interval, "max_poll_interval")
        if self.min_poll_interval > self.max_poll_interval:
            raise ValueError(
                f"min_poll_interval ({self.min_poll_interval}) must not exceed "
                f"max_poll_interval ({self.max_poll_interval})"
            )

    @property
    def _wait_conn_id(self) -> str:
        """The connection polled: the one that made the video when known, else ``conn_id``."""
        return self._polled_conn_id or self.conn_id

    def _poll_connection(self, conn_id: Any, generation_id: str, where: str) -> None:
        """Poll ``conn_id`` (the connection that made ``generation_id``, read from ``where``)
        instead of ``conn_id``, saying so once when they differ."""
        if not isinstance(conn_id, str) or not conn_id.strip():
            return
        conn_id = conn_id.strip()
        if conn_id != self._wait_conn_id:
            self.log.info(
                "generation %s was made through connection %s (%s), not %s: polling %s",
                generation_id,
                conn_id,
                where,
                self.conn_id,
                conn_id,
            )
            self._grokvideo_hook = None
        self._polled_conn_id = conn_id

    def _follow_record(self, generation_id: str, context: Context) -> None:
        """Poll the connection named by the generate task's ``grokvideo`` record, when this
        wait's generation id is that task's return value and the record is of the same id.

        Anything else (no such task, no record, another id, an unreadable XCom) keeps
        ``conn_id``: the record only ever redirects to where the same job was made.
        """
        if self._record_followed or self._polled_conn_id is not None:
            return
        self._record_followed = True  # once per instance (each poke would read it again)
        task_id = self._generation_task_id or mapped_source_task_id(self, "generation_id")
        if task_id is None:
            return
        from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY

        ti = context["ti"]
        try:
            record = ti.xcom_pull(task_ids=task_id, key=XCOM_KEY, map_indexes=ti.map_index)
        except Exception as exc:
            self.log.warning("could not read the record of task %s: %s", task_id, exc)
            return
        if isinstance(record, Mapping) and str(record.get("generation_id")) == generation_id:
            self._poll_connection(record.get("conn_id"), generation_id, f"task {task_id}'s record")

    # -- one read, on the worker ----------------------------------------------------------
    @property
    def _hook(self) -> GrokVideoHook:
        if self._grokvideo_hook is None:
            from airflow_provider_grokvideo.hooks import get_video_hook
            from airflow_provider_grokvideo.hooks.outcomes import RetryPolicy

            # One attempt per read: the next poll (or the trigger) is the retry.
            self._grokvideo_hook = get_video_hook(self._wait_conn_id, retry=RetryPolicy(attempts=1))
        return self._grokvideo_hook

    def _read_once(self, generation_id: str) -> StatusRead:
        """Read the status once; weather (429, 5xx, network, unreadable) is ``None``, any other
        error (401, 404...) is raised."""
        from airflow_provider_grokvideo.hooks.outcomes import is_transient_read_error

        try:
            return StatusRead(self._hook.get_video(generation_id))
        except Exception as exc:
            if not is_transient_read_error(exc):
                raise
            self.log.warning("status of %s not readable now: %s", generation_id, exc)
            return StatusRead(None, float(getattr(exc, "retry_after", None) or 0.0))

    def _outcome(
        self, generation: VideoGeneration, context: Context | None = None
    ) -> dict[str, Any] | None:
        """The task's return value when ``generation`` succeeded, ``None`` while it runs; a
        generation that ended otherwise raises :class:`GrokVideoGenerationFailed`.  An ended
        generation is recorded for the "Grok videos" page (when the task's context is given; a
        success by its return value, see ``tasks.ending.success_needs_record``)."""
        succeeded = generation.status == "succeeded"
        if generation.is_terminal and context is not None and self._pushes_record(succeeded):
            from airflow_provider_grokvideo.tasks.catalog import record_generation

            record_generation(
                context,
                generation.to_dict(),
                cost_estimate=self._own_estimate(),
                prompt=self._own_prompt(),
            )
        if succeeded:
            return self._after_success(self._succeeded(generation.to_dict()), context)
        if generation.is_terminal:
            raise GrokVideoGenerationFailed.from_generation(generation)
        progress = f" ({generation.progress}%)" if generation.progress is not None else ""
        self.log.info(
            "generation %s is %s%s", generation.generation_id, generation.status, progress
        )
        return None

    # -- waiting in the triggerer ---------------------------------------------------------
    def _finished_before_defer(
        self, generation_id: str, context: Context | None = None
    ) -> dict[str, Any] | None:
        """Check once on the worker: the return value if the generation already succeeded,
        ``None`` to defer (still running, or weather); raises if it already failed."""
        generation = self._read_once(generation_id).generation
        if generation is None:
            return None
        result = self._outcome(generation, context)
        if result is not None:
            self.log.info("generation %s had already ended: not deferring", generation_id)
        return result

    def _task_end_spec(self, generation_id: str, context: Context | None) -> dict[str, Any] | None:
        """How the trigger ends this task (``tasks.ending.task_end_spec``), or ``None`` to
        resume it on a worker: ``end_from_trigger=False``, an Airflow that cannot end a task
        from a trigger with its retries intact, a subclass with its own ``execute_complete``,
        a callback that only a worker runs, ``outlets`` (asset events), a value that a mapped
        downstream expands over, or a link that only a worker can compute."""
        from airflow_provider_grokvideo.compat import AIRFLOW_VERSION, TRIGGER_CAN_END_TASKS

        ti = context.get("ti") if context is not None else None
        if self.end_from_trigger is False or ti is None or self._checks_on_worker:
            return None
        if not TRIGGER_CAN_END_TASKS:
            if self.end_from_trigger:
                self.log.info(
                    "end_from_trigger: Airflow %s ignores a failed task's retries when its "
                    "trigger ends it (fixed in 3.3.1); the task resumes on a worker",
                    AIRFLOW_VERSION,
                )
            return None
        if type(self).execute_complete is not GenerationWaitMixin.execute_complete:
            return None  # its own ending runs on a worker
        if not _pushes_its_value_plainly(self, ti):
            return None
        if getattr(self, "outlets", None):
            return None  # a worker emits its asset events; Airflow's end-event handler does not
        # Airflow's DAG processor runs the failure and retry callbacks of a task ended by its
        # trigger, but drops its success callback ("not a failure callback", 3.3) and a skip
        # sends none: a task with one of those resumes on a worker, where they run.
        if getattr(self, "on_success_callback", None) or (
            self._skips_on_failure and getattr(self, "on_skipped_callback", None)
        ):
            return None
        from airflow_provider_grokvideo.tasks.ending import success_needs_record, task_end_spec
        from airflow_provider_grokvideo.tasks.links import GrokVideoLink, GrokVideoUpstreamLink

        video_links: list[str] = []
        dag_id, run_id = getattr(ti, "dag_id", None), getattr(ti, "run_id", None)
        if not dag_id or not run_id:
            return None
        for link in getattr(self, "operator_extra_links", ()):
            if type(link) is GrokVideoUpstreamLink:
                video_links.append(link.xcom_key)
            elif type(link) is not GrokVideoLink:  # a subclass's page link: pushed at deferral
                return None  # a link of the user's: computed by a worker at the task's end
        return task_end_spec(
            cost_estimate=self.cost_estimate,
            record_estimate=self._own_estimate(),
            record_prompt=self._own_prompt(),
            skip_on_failure=self._skips_on_failure,
            record_success=success_needs_record(self),
            video_links=video_links,
            task={
                "dag_id": dag_id,
                "task_id": ti.task_id,
                "run_id": run_id,
                "map_index": getattr(ti, "map_index", -1),
            },
        )

    def _defer_to_trigger(self, generation_id: str, context: Context | None = None) -> None:
        from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

        task_end = self._task_end_spec(generation_id, context)
        self.log.info(
            "Waiting for generation %s through connection %s (in the triggerer, which %s)",
            generation_id,
            self._wait_conn_id,
            "ends the task" if task_end is not None else "resumes the task on a worker",
        )
        # Airflow pushes every extra link's XCom as a worker stops, at a deferral too.  The
        # upstream's video URL is not known yet (no video: it would be an empty XCom pushed for
        # nothing); a page link that a subclass lists is (the same at every stage).  This copy
        # of the operator (``prepare_for_execution``'s, gone with the process) keeps the links
        # worth pushing.
        from airflow_provider_grokvideo.tasks.links import GrokVideoLink

        self.operator_extra_links = tuple(
            link for link in self.operator_extra_links if type(link) is GrokVideoLink
        )
        self.defer(
            trigger=GrokVideoTrigger(
                conn_id=self._wait_conn_id,
                generation_id=generation_id,
                deadline=time.time() + self.timeout,
                poll_interval=self.poll_interval,
                min_poll_interval=self.min_poll_interval,
                max_poll_interval=self.max_poll_interval,
                started_at=time.time(),
                task_end=task_end,
            ),
            method_name="execute_complete",
            kwargs={"cost_estimate": self.cost_estimate} if self.cost_estimate else None,
            timeout=timedelta(seconds=self.timeout + DEFERRAL_GRACE_SECONDS),
        )

    def _wait_in_triggerer(
        self, generation_id: str, context: Context | None = None
    ) -> dict[str, Any]:
        """Finish on the worker if the generation has ended, else defer (raises
        ``TaskDeferred``; the task resumes in :meth:`execute_complete`)."""
        result = self._finished_before_defer(generation_id, context)
        if result is not None:
            return result
        self._defer_to_trigger(generation_id, context)
        raise AssertionError("defer() returned")  # pragma: no cover  (defer always raises)

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        cost_estimate: Any = None,
    ) -> Any:
        """Resume after the trigger's event: only a succeeded generation gets through.

        ``cost_estimate`` comes back from the deferral (the one-task wait's estimate was made
        by the instance that deferred, not by this one)."""
        if isinstance(event, str) and event in TASK_END_STATES:
            return self._resume_after_task_end(event, context)
        event = event if isinstance(event, dict) else {}
        if isinstance(event.get("conn_id"), str):
            self._polled_conn_id = event["conn_id"]  # the connection the trigger polled
        status = event.get("status")
        message = str(event.get("message") or f"trigger event without a message: {event!r}")
        generation = event.get("generation")
        if cost_estimate is not None and self._estimate_is_own:
            self.cost_estimate = cost_estimate  # made by the instance that deferred
        from airflow_provider_grokvideo.tasks.catalog import record_generation
        from airflow_provider_grokvideo.tasks.ending import recorded_status

        # For the "Grok videos" page, whatever the outcome (a success: its return value).
        succeeded = (
            status == "succeeded"
            and isinstance(generation, dict)
            and generation.get("status") == "succeeded"
        )
        if self._pushes_record(succeeded):
            record_generation(
                context,
                generation,
                status=recorded_status(status),
                error=None if status == "succeeded" else message,
                cost_estimate=self._own_estimate(),
                prompt=self._own_prompt(),
            )
        if succeeded:
            if cost_estimate is not None:
                self.cost_estimate = cost_estimate
            return self._after_success(self._succeeded(generation), context)
        if status in FAILED_STATUSES and isinstance(generation, dict):
            from airflow_provider_grokvideo.models import VideoGeneration

            raise GrokVideoGenerationFailed.from_generation(VideoGeneration.from_dict(generation))
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        generation_id = event.get("generation_id") or getattr(self, "generation_id", "?")
        raise AirflowException(f"Waiting for generation {generation_id} failed: {message}")

    def _resume_after_task_end(self, state: str, context: Context) -> dict[str, Any]:
        """A task that its trigger ended, resumed with the event's payload (the state's name)
        and without its XComs: what ``dag.test()`` of Airflow 3.1 to 3.3 does with a task-end
        event.  Read the generation once and end here as the worker always did."""
        generation_id = self._resumed_generation_id(context)
        self.log.info(
            "The trigger ended this task (%s) but it was resumed: reading generation %s once",
            state,
            generation_id,
        )
        generation = self._read_once(generation_id).generation
        result = self._outcome(generation, context) if generation is not None else None
        if result is not None:
            return result
        raise AirflowSensorTimeout(
            f"Sensor has timed out: generation {generation_id} had not ended when its trigger "
            f"ended the task ({state})"
        )

    def _resumed_generation_id(self, context: Context) -> str:
        """The id this task waited for, after a resume: the generate task's own record (its
        connection polled); the sensor overrides it with its ``generation_id``."""
        from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY

        ti = context["ti"]
        record = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_KEY, map_indexes=ti.map_index)
        if not isinstance(record, Mapping) or not record.get("generation_id"):
            raise AirflowException("resumed without the record of the generation waited for")
        generation_id = str(record["generation_id"])
        self._poll_connection(record.get("conn_id"), generation_id, "its record")
        return generation_id

    # -- waiting on the worker ------------------------------------------------------------
    def _poll_on_worker(self, generation_id: str, context: Context | None = None) -> dict[str, Any]:
        """Poll from the worker every ``poll_interval`` seconds (longer when the upstream asks
        for it) until the generation ends or ``timeout`` passes."""
        deadline = time.monotonic() + self.timeout
        while True:
            read = self._read_once(generation_id)
            if read.generation is not None:
                result = self._outcome(read.generation, context)
                if result is not None:
                    return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AirflowSensorTimeout(
                    f"Sensor has timed out: generation {generation_id} did not end within "
                    f"{self.timeout:g} seconds"
                )
            pause = max(self.poll_interval, min(read.retry_after, self.max_poll_interval))
            time.sleep(min(pause, remaining))

    #: Whether a succeeded wait has work left on a worker (a delivered video's check).
    @property
    def _checks_on_worker(self) -> bool:
        return bool(getattr(self, "deliver_to", None))

    def _pushes_record(self, succeeded: bool) -> bool:
        """Whether an ending pushes a ``grokvideo`` record: all but a success, which the page
        reads from the return value (``tasks.ending.success_needs_record``)."""
        from airflow_provider_grokvideo.tasks.ending import success_needs_record

        return not succeeded or success_needs_record(self)

    def _after_success(self, result: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """What a succeeded wait does before returning ``result`` (nothing here)."""
        return result

    def _succeeded(self, generation: dict[str, Any]) -> dict[str, Any]:
        """The task's return value for a succeeded generation: with its cost (billed, else the
        estimate), logged."""
        from airflow_provider_grokvideo.tasks.ending import wait_result

        data = wait_result(generation, self.cost_estimate, self._wait_conn_id)
        # The upstream link is made from it at the task's end, without reading XCom back.
        self._grokvideo_result = data
        urls = data.get("video_urls") or []
        cost = data.get("cost_usd")
        if data.get("cost_source") == "billed":  # the spend budget counts the bill, not the guess
            from airflow_provider_grokvideo.budget.spend import settle_billed

            generation_id = str(data.get("generation_id"))
            settle_billed(self._hook, generation_id, data.get("cost_ticks"), self.log)
        self.log.info(
            "generation %s succeeded: %s (cost: %s)",
            data.get("generation_id"),
            ", ".join(urls),
            f"${cost} {data.get('cost_source')}" if cost is not None else "unknown",
        )
        return data


def _pushes_its_value_plainly(task: Any, ti: Any) -> bool:
    """Whether the worker would push the return value as one XCom with nothing else to do:
    not with ``do_xcom_push=False`` or ``multiple_outputs``, nor for a task whose mapped
    downstream expands over it (the worker records its length too)."""
    if not getattr(task, "do_xcom_push", True) or getattr(task, "multiple_outputs", False):
        return False
    try:
        mapped_dependant = next(task.iter_mapped_dependants(), None) is not None
    except Exception:
        return False
    return bool(getattr(ti, "is_mapped", False)) or not mapped_dependant
