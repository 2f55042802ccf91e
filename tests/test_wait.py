"""tasks.wait: one status read and its meaning, shared by the sensor and the operator.

The deferral, the trigger's event and worker-side polling are exercised through both tasks in
``test_sensor.py``, ``test_generate_operator.py`` and ``test_durable_submit.py``; here, the
pieces on their own against the emulator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import BaseOperator

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.tasks.wait import (
    GenerationWaitMixin,
    GrokVideoGenerationFailed,
    StatusRead,
    seconds,
)


class Waiter(GenerationWaitMixin, BaseOperator):
    """The smallest task that waits: what the mixin expects its operator to set."""

    def __init__(self, *, conn_id: str, **kwargs: Any) -> None:
        super().__init__(task_id="wait", **kwargs)
        self.conn_id = conn_id
        self.timeout = 30.0
        self._set_poll_settings(0.2, 0.1, 0.5)


def submit(upstream: str, prompt: str = "a windmill") -> str:
    from airflow_provider_grokvideo.hooks import get_video_hook

    return get_video_hook(f"grokvideo_{upstream}_default").submit_video(prompt)


def test_seconds_takes_numbers_and_timedeltas_and_refuses_negatives() -> None:
    assert seconds(5, "x") == 5.0
    assert seconds(timedelta(minutes=2), "x") == 120.0
    with pytest.raises(ValueError, match="timeout must not be negative"):
        seconds(-1, "timeout")


def test_read_once_reads_one_status(emulator: Emulator) -> None:
    generation_id = submit("xcompute")
    read = Waiter(conn_id="grokvideo_xcompute_default")._read_once(generation_id)
    assert isinstance(read.generation, VideoGeneration)
    assert read.generation.generation_id == generation_id
    assert emulator.stats()["upstreams"]["xcompute"]["status_reads"] == 1


def test_read_once_turns_weather_into_none_with_the_upstreams_retry_after(
    emulator: Emulator,
) -> None:
    generation_id = submit("xai")
    emulator.inject("429", count=1, upstream="xai", endpoint="status", retry_after=7)
    read = Waiter(conn_id="grokvideo_xai_default")._read_once(generation_id)
    assert read == StatusRead(None, 7.0)
    assert emulator.stats()["faults_pending"] == []  # one attempt, no retry inside


def test_outcome_of_each_status() -> None:
    waiter = Waiter(conn_id="grokvideo_xai_default")
    done = VideoGeneration("req-1", "succeeded", 100, ["https://cdn/v.mp4"])
    assert waiter._outcome(done) == done.to_dict()
    for status in ("queued", "running"):
        assert waiter._outcome(VideoGeneration("req-1", status)) is None  # type: ignore[arg-type]
    for status in ("failed", "cancelled", "expired"):
        generation = VideoGeneration("req-1", status, error_message="why")  # type: ignore[arg-type]
        with pytest.raises(GrokVideoGenerationFailed, match="why") as caught:
            waiter._outcome(generation)
        assert caught.value.status == status
