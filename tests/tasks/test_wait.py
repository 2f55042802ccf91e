"""tasks.wait: one status read and its meaning, shared by the sensor and the operator.

The deferral, the trigger's event and worker-side polling are exercised through both tasks in
``sensors/test_video.py``, ``operators/test_generate.py`` and
``integration/test_durable_submit.py``; here, the pieces on their own against the emulator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import BaseOperator
from hook_support import submit

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.tasks.wait import (
    GenerationWaitMixin,
    GrokVideoGenerationFailed,
    StatusRead,
    seconds,
    source_task_id,
)


class Waiter(GenerationWaitMixin, BaseOperator):
    """The smallest task that waits: what the mixin expects its operator to set."""

    def __init__(self, *, conn_id: str, **kwargs: Any) -> None:
        super().__init__(task_id="wait", **kwargs)
        self.conn_id = conn_id
        self.timeout = 30.0
        self._set_poll_settings(0.2, 0.1, 0.5)


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
    assert waiter._outcome(done) == {**done.to_dict(), "conn_id": "grokvideo_xai_default"}
    for status in ("queued", "running"):
        assert waiter._outcome(VideoGeneration("req-1", status)) is None  # type: ignore[arg-type]
    for status in ("failed", "cancelled", "expired"):
        generation = VideoGeneration("req-1", status, error_message="why")  # type: ignore[arg-type]
        with pytest.raises(GrokVideoGenerationFailed, match="why") as caught:
            waiter._outcome(generation)
        assert caught.value.status == status


# -- the connection that made the video -------------------------------------------------------


class FakeTI:
    """A task instance whose ``xcom_pull`` answers one record (or raises it)."""

    map_index = -1

    def __init__(self, record: Any) -> None:
        self.record = record
        self.pulls: list[dict[str, Any]] = []

    def xcom_pull(self, **kwargs: Any) -> Any:
        self.pulls.append(kwargs)
        if isinstance(self.record, Exception):
            raise self.record
        return self.record


def test_source_task_id_is_the_task_whose_return_value_it_is() -> None:
    from airflow.sdk import DAG, XComArg

    with DAG("d", schedule=None):
        generate = BaseOperator(task_id="generate")
    assert source_task_id(generate.output) == "generate"
    assert source_task_id(XComArg(generate, key="grokvideo")) is None  # resolved to the record
    assert source_task_id("req-1") is None and source_task_id(None) is None


@pytest.mark.parametrize(
    ("record", "polled"),
    [
        ({"generation_id": "req-1", "conn_id": "made"}, "made"),
        ({"generation_id": "req-1", "conn_id": "first"}, "first"),
        ({"generation_id": "req-2", "conn_id": "made"}, "first"),  # another job's record
        ({"generation_id": "req-1"}, "first"),  # the one-task wait's record names none
        ({"generation_id": "req-1", "conn_id": " "}, "first"),
        (None, "first"),
        (["req-1"], "first"),
        (RuntimeError("no XCom"), "first"),
    ],
)
def test_follow_record_polls_the_connection_of_a_record_of_the_same_id(record, polled) -> None:
    waiter = Waiter(conn_id="first")
    waiter._generation_task_id = "generate"
    ti = FakeTI(record)
    waiter._follow_record("req-1", {"ti": ti})  # type: ignore[arg-type]
    assert waiter._wait_conn_id == polled
    assert ti.pulls == [{"task_ids": "generate", "key": "grokvideo", "map_indexes": -1}]
    waiter._follow_record("req-1", {"ti": ti})  # type: ignore[arg-type]
    assert len(ti.pulls) == 1  # once per instance: a poke does not read it again


def test_follow_record_without_a_source_task_reads_nothing() -> None:
    waiter = Waiter(conn_id="first")
    waiter._follow_record("req-1", {})  # type: ignore[arg-type]  # no "ti": never read
    assert waiter._wait_conn_id == "first"


def test_the_hook_and_the_trigger_use_the_connection_polled(emulator: Emulator) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    generation_id = submit("xai", "a windmill [emulator:seconds=60]")
    waiter = Waiter(conn_id="grokvideo_mountsea_default")
    waiter._poll_connection("grokvideo_xai_default", generation_id, "a test")
    assert waiter._hook.conn_id == "grokvideo_xai_default"
    with pytest.raises(TaskDeferred) as caught:
        waiter._wait_in_triggerer(generation_id)
    assert caught.value.trigger.conn_id == "grokvideo_xai_default"
    assert emulator.stats()["upstreams"]["mountsea"]["status_reads"] == 0
