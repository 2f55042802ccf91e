"""The sensor that waits for a Grok video generation to end.

Deferrable by default: the worker slot is released at once and :class:`GrokVideoTrigger`
polls in the triggerer.  ``deferrable=False`` polls from the worker instead (``mode="poke"`` or
``mode="reschedule"``).  Either way the sensor only reads: a retry of the sensor task polls
the same ``generation_id`` again and never submits (never pays for) anything.

This module is imported by DAG files on every parse: it imports no hook, no HTTP client and no
trigger at module level; they load when the task runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.bases.sensor import PokeReturnValue

from airflow_provider_grokvideo.compat import (
    AirflowFailException,
    AirflowSkipException,
    deferral_blocked,
)
from airflow_provider_grokvideo.statuses import FAILED_STATUSES
from airflow_provider_grokvideo.tasks.links import GrokVideoUpstreamLink
from airflow_provider_grokvideo.tasks.wait import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    DEFERRAL_GRACE_SECONDS,
    GenerationWaitMixin,
    GrokVideoGenerationFailed,
    source_task_id,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "DEFAULT_MAX_POLL_INTERVAL",
    "DEFAULT_MIN_POLL_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "DEFERRAL_GRACE_SECONDS",
    "FAILED_STATUSES",
    "GrokVideoGenerationFailed",
    "GrokVideoSensor",
]


class GrokVideoSensor(GenerationWaitMixin, BaseSensorOperator):
    """Wait until a Grok video generation ends; return it (``VideoGeneration.to_dict()``).

    :param conn_id: the connection of the upstream that generates the video (templated).
        Fed by a generate task's ``output``, the sensor polls the connection that task's
        ``grokvideo`` record names instead (a generate task with ``fallback_conn_ids`` may have
        made the video through another one), when the record is of the same generation id.
    :param generation_id: the upstream's job id, typically the generate task's return value:
        ``generate.output`` or ``"{{ ti.xcom_pull(task_ids='generate') }}"`` (templated); or a
        mapping with ``generation_id`` and ``conn_id``, such as the generate task's record
        (``XComArg(generate, key="grokvideo")``): its ``conn_id`` is the connection polled.
    :param poll_interval: the longest back-off step between status reads when the upstream
        gives no progress hint; in poke mode, the fixed interval between pokes.
    :param min_poll_interval: the shortest delay between two status reads (deferrable mode),
        and the least time between the deferral and the trigger's first read.
    :param max_poll_interval: the longest delay between two status reads (deferrable mode).
    :param timeout: seconds to wait before failing with ``AirflowSensorTimeout`` (or skipping
        with ``soft_fail=True``).
    :param deferrable: wait in the triggerer (default) rather than in a worker slot.
    :param cost_estimate: the generate task's ``cost_estimate`` XCom (templated), used as the
        result's cost where the upstream bills none: ``"{{ ti.xcom_pull(task_ids='generate',
        key='cost_estimate', map_indexes=ti.map_index) }}"``, say.
    :param end_from_trigger: in deferrable mode, end the task in the triggerer when the
        generation ends (success with the same XComs, failure, or skip with ``soft_fail``),
        without resuming it on a worker.  Default: where Airflow keeps a task's retries and
        callbacks for it (3.3.1 and newer); ``False`` resumes it on a worker, as before.

    The XCom return value is the finished generation: ``status`` (``"succeeded"``),
    ``video_urls``, ``thumbnail_url``, ``expires_at`` (unix seconds when the URLs stop working)
    and the rest of :class:`~airflow_provider_grokvideo.models.VideoGeneration`, with its cost:
    ``cost_ticks`` and ``cost_usd``, and ``cost_source`` ``"billed"`` (the upstream's figure) or
    ``"estimated"`` (``cost_estimate``).  A failed,
    cancelled or expired generation fails the task, without retries, with
    :class:`GrokVideoGenerationFailed` carrying the upstream's code and message.

    Before deferring, the sensor reads the status once on the worker and finishes there when
    the generation has already ended (see :mod:`airflow_provider_grokvideo.tasks.wait`).
    """

    template_fields: Sequence[str] = ("conn_id", "generation_id", "cost_estimate")
    # The upstream's URL is in the return value (pushed at the end); the "Grok video" link is
    # the API server's (tasks/links.py).
    operator_extra_links = (GrokVideoUpstreamLink(),)
    ui_color = "#d7e9f7"

    def __init__(
        self,
        *,
        conn_id: str,
        generation_id: str | Mapping[str, Any],
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_poll_interval: float = DEFAULT_MIN_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        deferrable: bool = True,
        cost_estimate: dict[str, Any] | str | None = None,
        end_from_trigger: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poll_interval, timeout=timeout, **kwargs)
        self.conn_id = conn_id
        self.generation_id = generation_id
        # Remembered now: once rendered, ``generation_id`` no longer says where it came from.
        self._generation_task_id = source_task_id(generation_id)
        self._set_poll_settings(poll_interval, min_poll_interval, max_poll_interval)
        self.deferrable = deferrable
        self.cost_estimate = cost_estimate
        self.end_from_trigger = end_from_trigger
        self._grokvideo_hook = None

    @property
    def _skips_on_failure(self) -> bool:  # type: ignore[override]
        # As BaseSensorOperator.resume_execution does on a worker.
        return bool(self.soft_fail or getattr(self, "never_fail", False))

    # -- deferrable mode ------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        # An Airflow that cannot defer here waits by poking, as deferrable=False does.
        if not self.deferrable or deferral_blocked(self.log):
            return super().execute(context)
        self._check_generation_id(context)
        try:
            return self._wait_in_triggerer(self.generation_id, context)
        except AirflowFailException as exc:
            # A generation that had already failed: skipped, as after the trigger's event.
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(
                    f"Skipping ({'soft_fail' if self.soft_fail else 'never_fail'} is set): {exc}"
                ) from exc
            raise

    # -- poke / reschedule mode -----------------------------------------------------------
    def poke(self, context: Context) -> bool | PokeReturnValue:
        self._check_generation_id(context)
        read = self._read_once(self.generation_id)
        if read.generation is None:
            # Weather: try again at the next poke, later if the upstream asked for more time.
            extra = min(read.retry_after - self.poke_interval, self.max_poll_interval)
            if extra > 0 and not self.reschedule:
                time.sleep(extra)
            return False
        result = self._outcome(read.generation, context)
        if result is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=result)

    # -- helpers --------------------------------------------------------------------------
    def _resumed_generation_id(self, context: Context) -> str:
        self._check_generation_id(context)
        return self.generation_id

    def _check_generation_id(self, context: Context) -> None:
        """Make ``generation_id`` the job id (from a record, its ``conn_id`` polled), and
        find the connection that made it (:meth:`_follow_record`)."""
        value: Any = self.generation_id
        record = value if isinstance(value, Mapping) else None
        if record is not None:
            value = record.get("generation_id")
        if not isinstance(value, str) or not value.strip() or value.strip() == "None":
            raise AirflowFailException(
                f"generation_id must be the upstream's job id (the generate task's return "
                f"value) or a record carrying it, got {self.generation_id!r}"
            )
        self.generation_id = value.strip()
        if record is not None:
            self._poll_connection(record.get("conn_id"), self.generation_id, "its record")
        else:
            self._follow_record(self.generation_id, context)
