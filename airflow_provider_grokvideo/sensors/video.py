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
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.bases.sensor import PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_provider_grokvideo.exceptions import GenerationFailed
from airflow_provider_grokvideo.links import GrokVideoLink, GrokVideoUpstreamLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.models import VideoGeneration

# The trigger's defaults, repeated here so that importing the sensor does not import it.
DEFAULT_POLL_INTERVAL = 20.0
DEFAULT_MIN_POLL_INTERVAL = 5.0
DEFAULT_MAX_POLL_INTERVAL = 120.0
DEFAULT_TIMEOUT = 60 * 60.0
#: Airflow's own deferral timeout is set this much after the trigger's deadline, as a safety
#: net only: the trigger reports its own timeout first.
DEFERRAL_GRACE_SECONDS = 120.0
FAILED_STATUSES = ("failed", "cancelled", "expired")


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


class GrokVideoSensor(BaseSensorOperator):
    """Wait until a Grok video generation ends; return it (``VideoGeneration.to_dict()``).

    :param conn_id: the connection of the upstream that generates the video (templated).
    :param generation_id: the upstream's job id, typically the generate task's return value:
        ``"{{ ti.xcom_pull(task_ids='generate') }}"`` or ``generate.output`` (templated).
    :param poll_interval: the longest back-off step between status reads when the upstream
        gives no progress hint; in poke mode, the fixed interval between pokes.
    :param min_poll_interval: the shortest delay between two status reads (deferrable mode).
    :param max_poll_interval: the longest delay between two status reads (deferrable mode).
    :param timeout: seconds to wait before failing with ``AirflowSensorTimeout`` (or skipping
        with ``soft_fail=True``).
    :param deferrable: wait in the triggerer (default) rather than in a worker slot.

    The XCom return value is the finished generation: ``status`` (``"succeeded"``),
    ``video_urls``, ``thumbnail_url``, ``expires_at`` (unix seconds when the URLs stop working)
    and the rest of :class:`~airflow_provider_grokvideo.models.VideoGeneration`.  A failed,
    cancelled or expired generation fails the task, without retries, with
    :class:`GrokVideoGenerationFailed` carrying the upstream's code and message.
    """

    template_fields: Sequence[str] = ("conn_id", "generation_id")
    operator_extra_links = (GrokVideoLink(), GrokVideoUpstreamLink())
    ui_color = "#d7e9f7"

    def __init__(
        self,
        *,
        conn_id: str,
        generation_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_poll_interval: float = DEFAULT_MIN_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poll_interval, timeout=timeout, **kwargs)
        self.conn_id = conn_id
        self.generation_id = generation_id
        self.poll_interval = _seconds(poll_interval, "poll_interval")
        self.min_poll_interval = _seconds(min_poll_interval, "min_poll_interval")
        self.max_poll_interval = _seconds(max_poll_interval, "max_poll_interval")
        if self.min_poll_interval > self.max_poll_interval:
            raise ValueError(
                f"min_poll_interval ({self.min_poll_interval}) must not exceed "
                f"max_poll_interval ({self.max_poll_interval})"
            )
        self.deferrable = deferrable
        self._grokvideo_hook: GrokVideoHook | None = None

    # -- deferrable mode ------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self._check_generation_id()
        from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

        self.log.info(
            "Waiting for generation %s through connection %s (in the triggerer)",
            self.generation_id,
            self.conn_id,
        )
        self.defer(
            trigger=GrokVideoTrigger(
                conn_id=self.conn_id,
                generation_id=self.generation_id,
                deadline=time.time() + self.timeout,
                poll_interval=self.poll_interval,
                min_poll_interval=self.min_poll_interval,
                max_poll_interval=self.max_poll_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + DEFERRAL_GRACE_SECONDS),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger's event: only a succeeded generation gets through."""
        event = event if isinstance(event, dict) else {}
        status = event.get("status")
        message = str(event.get("message") or f"trigger event without a message: {event!r}")
        generation = event.get("generation")
        from airflow_provider_grokvideo.catalog import record_generation

        # For the "Grok videos" page, whatever the outcome.
        problem = None if status == "succeeded" else message
        record_generation(context, generation, status=_recorded_status(status), error=problem)
        succeeded = isinstance(generation, dict) and generation.get("status") == "succeeded"
        if status == "succeeded" and succeeded:
            self._log_success(generation)
            return generation
        if status in FAILED_STATUSES and isinstance(generation, dict):
            from airflow_provider_grokvideo.models import VideoGeneration

            raise GrokVideoGenerationFailed.from_generation(VideoGeneration.from_dict(generation))
        if status == "timeout":
            raise AirflowSensorTimeout(f"Sensor has timed out: {message}")
        raise AirflowException(f"Waiting for generation {self.generation_id} failed: {message}")

    # -- poke / reschedule mode -----------------------------------------------------------
    def poke(self, context: Context) -> bool | PokeReturnValue:
        self._check_generation_id()
        from airflow_provider_grokvideo.hooks.base import is_transient_read_error

        try:
            generation = self._hook.get_video(self.generation_id)
        except Exception as exc:
            if not is_transient_read_error(exc):
                raise
            # Weather: try again at the next poke, later if the upstream asked for more time.
            extra = min(
                float(getattr(exc, "retry_after", None) or 0.0) - self.poke_interval,
                self.max_poll_interval,
            )
            self.log.warning("status of %s not readable now: %s", self.generation_id, exc)
            if extra > 0 and not self.reschedule:
                time.sleep(extra)
            return False
        if generation.is_terminal:
            from airflow_provider_grokvideo.catalog import record_generation

            record_generation(context, generation.to_dict())  # for the "Grok videos" page
        if generation.status == "succeeded":
            data = generation.to_dict()
            self._log_success(data)
            return PokeReturnValue(is_done=True, xcom_value=data)
        if generation.is_terminal:
            raise GrokVideoGenerationFailed.from_generation(generation)
        progress = f" ({generation.progress}%)" if generation.progress is not None else ""
        self.log.info("generation %s is %s%s", self.generation_id, generation.status, progress)
        return False

    @property
    def _hook(self) -> GrokVideoHook:
        if self._grokvideo_hook is None:
            from airflow_provider_grokvideo.hooks import get_video_hook
            from airflow_provider_grokvideo.hooks.base import RetryPolicy

            # One attempt per poke: the pokes themselves are the retries.
            self._grokvideo_hook = get_video_hook(self.conn_id, retry=RetryPolicy(attempts=1))
        return self._grokvideo_hook

    # -- helpers --------------------------------------------------------------------------
    def _check_generation_id(self) -> None:
        value = self.generation_id
        if not isinstance(value, str) or not value.strip() or value.strip() == "None":
            raise AirflowFailException(
                f"generation_id must be the upstream's job id (the generate task's return "
                f"value), got {value!r}"
            )
        self.generation_id = value.strip()

    def _log_success(self, generation: dict[str, Any]) -> None:
        urls = generation.get("video_urls") or []
        self.log.info(
            "generation %s succeeded: %s", generation.get("generation_id"), ", ".join(urls)
        )


def _recorded_status(event_status: Any) -> str | None:
    """The page's status for a trigger event: its own, ``timeout``, or (error) none."""
    return event_status if event_status in (*FAILED_STATUSES, "succeeded", "timeout") else None


def _seconds(value: float | timedelta, name: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return seconds
