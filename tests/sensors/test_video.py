"""GrokVideoSensor: deferral, resuming on every event, poke mode, soft_fail, read-only retries."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from hook_support import submit

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.exceptions import GenerationFailed
from airflow_provider_grokvideo.plugins.grok_videos import our_operators
from airflow_provider_grokvideo.sensors.video import GrokVideoGenerationFailed, GrokVideoSensor
from airflow_provider_grokvideo.tasks.links import GrokVideoUpstreamLink
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

CONTEXT: Any = {}


def sensor(**kwargs: Any) -> GrokVideoSensor:
    arguments: dict[str, Any] = {
        "task_id": "wait",
        "conn_id": "grokvideo_xcompute_default",
        "generation_id": "task_01ABC",
    }
    arguments.update(kwargs)
    return GrokVideoSensor(**arguments)


def generation(status: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "generation_id": "task_01ABC",
        "status": status,
        "progress": 100 if status == "succeeded" else None,
        "video_urls": ["https://cdn.example/v.mp4"] if status == "succeeded" else [],
        "thumbnail_url": None,
        "error_code": None,
        "error_message": None,
        "expires_at": None,
        "estimated_seconds": None,
        "created_at": None,
        "cost_ticks": None,
        "cost_source": None,
        "cost_usd": None,
    }
    data.update(extra)
    return data


# -- deferral ---------------------------------------------------------------------------------


def test_defers_to_the_trigger_with_small_secret_free_kwargs(emulator: Emulator) -> None:
    generation_id = submit("xcompute", "a long one [emulator:seconds=60]")
    task = sensor(
        generation_id=generation_id,
        timeout=600,
        poll_interval=15,
        min_poll_interval=3,
        max_poll_interval=60,
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as caught:
        task.execute(CONTEXT)
    deferred = caught.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout is not None and deferred.timeout >= timedelta(seconds=600)
    trigger = deferred.trigger
    assert isinstance(trigger, GrokVideoTrigger)
    classpath, kwargs = trigger.serialize()
    assert set(kwargs) == {
        "conn_id",
        "generation_id",
        "deadline",
        "poll_interval",
        "min_poll_interval",
        "max_poll_interval",
        "started_at",
    }
    assert before <= kwargs["started_at"] <= time.time()  # the deferral, on the wall clock
    assert kwargs["conn_id"] == "grokvideo_xcompute_default"
    assert kwargs["generation_id"] == generation_id
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600  # wall-clock epoch seconds
    assert (kwargs["poll_interval"], kwargs["min_poll_interval"], kwargs["max_poll_interval"]) == (
        15.0,
        3.0,
        60.0,
    )
    # Rebuilt elsewhere (another triggerer), it is the same trigger.
    assert GrokVideoTrigger(**kwargs).serialize() == (classpath, kwargs)


# -- check-before-defer: what has already ended finishes on the worker -------------------------


def ended(upstream: str, prompt: str = "a hummingbird, macro") -> str:
    """A generation submitted and already ended upstream."""
    from airflow_provider_grokvideo.hooks import get_video_hook

    hook = get_video_hook(f"grokvideo_{upstream}_default")
    generation_id = hook.submit_video(prompt)
    deadline = time.monotonic() + 15
    while not hook.get_video(generation_id).is_terminal:
        assert time.monotonic() < deadline, "the emulator's job did not end"
        time.sleep(0.2)
    return generation_id


def status_reads(emulator: Emulator, upstream: str) -> int:
    return int(emulator.stats()["upstreams"][upstream]["status_reads"])


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_already_succeeded_returns_on_the_worker_without_deferring(
    emulator: Emulator, upstream: str
) -> None:
    generation_id = ended(upstream)
    reads = status_reads(emulator, upstream)
    result = sensor(conn_id=f"grokvideo_{upstream}_default", generation_id=generation_id).execute(
        CONTEXT
    )  # no TaskDeferred
    assert result["status"] == "succeeded"
    assert result["generation_id"] == generation_id
    assert result["video_urls"][0].startswith(emulator.url)
    assert status_reads(emulator, upstream) - reads == 1  # one read, on the worker


def test_already_failed_fails_on_the_worker_without_deferring(emulator: Emulator) -> None:
    generation_id = ended("mountsea", "a storm [emulator:fail]")
    with pytest.raises(GrokVideoGenerationFailed) as caught:
        sensor(conn_id="grokvideo_mountsea_default", generation_id=generation_id).execute(CONTEXT)
    assert caught.value.status == "failed" and caught.value.error_message


def test_already_cancelled_with_soft_fail_skips_on_the_worker(emulator: Emulator) -> None:
    generation_id = ended("xcompute", "a storm [emulator:cancel]")
    task = sensor(generation_id=generation_id, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        task.execute(CONTEXT)


def test_still_running_defers_after_one_read(emulator: Emulator) -> None:
    generation_id = submit("xai", "a long one [emulator:seconds=60]")
    reads = status_reads(emulator, "xai")
    with pytest.raises(TaskDeferred):
        sensor(conn_id="grokvideo_xai_default", generation_id=generation_id).execute(CONTEXT)
    assert status_reads(emulator, "xai") - reads == 1


@pytest.mark.parametrize("fault", ["503", "drop", "malformed"])
def test_weather_on_the_check_just_defers(emulator: Emulator, fault: str) -> None:
    generation_id = ended("xcompute")
    emulator.inject(fault, count=1, upstream="xcompute", endpoint="status")
    with pytest.raises(TaskDeferred) as caught:
        sensor(generation_id=generation_id).execute(CONTEXT)
    assert caught.value.trigger.generation_id == generation_id
    assert emulator.stats()["faults_pending"] == []  # the one read met the fault, no retry


def test_unknown_generation_on_the_check_fails(emulator: Emulator) -> None:
    from airflow_provider_grokvideo.exceptions import UpstreamHTTPError

    with pytest.raises(UpstreamHTTPError) as caught:
        sensor(generation_id="task_does_not_exist").execute(CONTEXT)
    assert caught.value.status_code == 404


@pytest.mark.parametrize("bad", ["", "None", None])
def test_missing_generation_id_fails_at_once(bad: Any) -> None:
    with pytest.raises(AirflowFailException, match="generation_id"):
        sensor(generation_id=bad).execute(CONTEXT)


def test_template_fields_and_link() -> None:
    assert set(GrokVideoSensor.template_fields) == {"conn_id", "generation_id", "cost_estimate"}
    # The page link is the API server's (tests/tasks/test_links.py); the upstream URL is pushed.
    assert GrokVideoSensor in our_operators()
    assert [type(link) for link in GrokVideoSensor.operator_extra_links] == [GrokVideoUpstreamLink]


def test_can_be_mapped_over_generation_ids() -> None:
    with DAG("grokvideo_sensor_mapping_check", schedule=None, start_date=datetime(2025, 1, 1)):
        mapped = GrokVideoSensor.partial(task_id="wait", conn_id="grokvideo_xai_default").expand(
            generation_id=["a", "b"]
        )
    assert mapped.expand_input.value == {"generation_id": ["a", "b"]}  # type: ignore[attr-defined]


def test_rejects_inverted_poll_bounds() -> None:
    with pytest.raises(ValueError, match="min_poll_interval"):
        sensor(min_poll_interval=10, max_poll_interval=5)


# -- resuming: execute_complete ---------------------------------------------------------------


def test_execute_complete_returns_the_succeeded_generation() -> None:
    data = generation("succeeded")
    event = {"status": "succeeded", "generation": data, "message": "ok"}
    result = sensor().execute_complete(CONTEXT, event)
    assert {key: result[key] for key in data} == data  # normalized: readable times added


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired"])
def test_execute_complete_fails_an_unsuccessful_generation(status: str) -> None:
    data = generation(status, error_code="content_policy", error_message="content rejected")
    event = {"status": status, "generation": data, "message": "..."}
    with pytest.raises(GrokVideoGenerationFailed) as caught:
        sensor().execute_complete(CONTEXT, event)
    error = caught.value
    assert isinstance(error, AirflowFailException)  # no retries: the answer will not change
    assert isinstance(error, GenerationFailed)
    assert (error.status, error.error_code, error.error_message) == (
        status,
        "content_policy",
        "content rejected",
    )
    assert str(error) == f"generation task_01ABC {status} [content_policy]: content rejected"


def test_execute_complete_timeout_is_a_sensor_timeout() -> None:
    event = {"status": "timeout", "generation": generation("running"), "message": "still running"}
    with pytest.raises(AirflowSensorTimeout, match="still running"):
        sensor().execute_complete(CONTEXT, event)


@pytest.mark.parametrize(
    "event",
    [
        {"status": "error", "generation": None, "message": "xai answered HTTP 404: not found"},
        {"status": "succeeded", "generation": None, "message": "no generation"},
        {"status": "succeeded", "generation": generation("running"), "message": "mismatch"},
        {"status": "something-new", "generation": None, "message": "?"},
        {},
        None,
    ],
)
def test_execute_complete_lets_nothing_else_through(event: Any) -> None:
    with pytest.raises(AirflowException):
        sensor().execute_complete(CONTEXT, event)


@pytest.mark.parametrize(
    "event",
    [
        {"status": "failed", "generation": generation("failed"), "message": "x"},
        {"status": "timeout", "generation": None, "message": "x"},
        {"status": "error", "generation": None, "message": "x"},
    ],
)
def test_soft_fail_skips_instead(event: dict[str, Any]) -> None:
    task = sensor(soft_fail=True)
    with pytest.raises(AirflowSkipException):
        task.resume_execution("execute_complete", {"event": event}, CONTEXT)


def test_without_soft_fail_resume_raises() -> None:
    event = {"status": "failed", "generation": generation("failed"), "message": "x"}
    with pytest.raises(GrokVideoGenerationFailed):
        sensor().resume_execution("execute_complete", {"event": event}, CONTEXT)


# -- poke mode, against the emulator ----------------------------------------------------------


def poke_sensor(upstream: str, generation_id: str, **kwargs: Any) -> GrokVideoSensor:
    return sensor(
        conn_id=f"grokvideo_{upstream}_default",
        generation_id=generation_id,
        deferrable=False,
        poll_interval=0.1,
        timeout=kwargs.pop("timeout", 15),
        **kwargs,
    )


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_poke_mode_returns_the_generation(emulator: Emulator, upstream: str) -> None:
    generation_id = submit(upstream)
    result = poke_sensor(upstream, generation_id).execute(CONTEXT)
    assert result["status"] == "succeeded"
    assert result["generation_id"] == generation_id
    assert result["video_urls"][0].startswith(emulator.url)
    json.dumps(result)  # plain JSON for XCom


def test_poke_mode_failure_carries_the_upstream_message(emulator: Emulator) -> None:
    generation_id = submit("mountsea", "a storm [emulator:fail]")
    with pytest.raises(GrokVideoGenerationFailed) as caught:
        poke_sensor("mountsea", generation_id).execute(CONTEXT)
    assert caught.value.status == "failed"
    assert caught.value.error_message
    assert caught.value.error_message in str(caught.value)


def test_poke_mode_soft_fail_skips(emulator: Emulator) -> None:
    generation_id = submit("xcompute", "a storm [emulator:cancel]")
    with pytest.raises(AirflowSkipException):
        poke_sensor("xcompute", generation_id, soft_fail=True).execute(CONTEXT)


def test_poke_mode_timeout(emulator: Emulator) -> None:
    generation_id = submit("xai", "slow [emulator:seconds=60]")
    with pytest.raises(AirflowSensorTimeout):
        poke_sensor("xai", generation_id, timeout=0.5).execute(CONTEXT)


def test_poke_mode_rides_out_weather(emulator: Emulator) -> None:
    generation_id = submit("xcompute")
    emulator.inject("503", count=3, endpoint="status")
    emulator.inject("429", count=1, endpoint="status", retry_after=0.5)
    emulator.inject("drop", count=1, endpoint="status")
    started = time.monotonic()
    result = poke_sensor("xcompute", generation_id).execute(CONTEXT)
    assert result["status"] == "succeeded"
    assert time.monotonic() - started >= 0.5  # Retry-After honoured
    assert emulator.stats()["faults_pending"] == []


def test_a_retried_wait_reads_the_same_generation_and_submits_nothing(emulator: Emulator) -> None:
    generation_id = submit("xai")
    first = poke_sensor("xai", generation_id).execute(CONTEXT)
    # The retry (a new try of the same task) polls the same id again.
    second = poke_sensor("xai", generation_id).execute(CONTEXT)
    assert first["generation_id"] == second["generation_id"] == generation_id
    stats = emulator.stats()["upstreams"]["xai"]
    assert stats["submissions"] == 1
    assert stats["status_reads"] >= 2


def test_a_record_as_generation_id_polls_its_connection(emulator: Emulator) -> None:
    generation_id = submit("xai")
    record = {"generation_id": generation_id, "conn_id": "grokvideo_xai_default", "stage": "x"}
    task = poke_sensor("xcompute", record)  # type: ignore[arg-type]
    result = task.execute(CONTEXT)
    assert result["generation_id"] == generation_id and task.generation_id == generation_id
    assert emulator.stats()["upstreams"]["xcompute"]["status_reads"] == 0


def test_a_record_without_an_id_fails_at_once() -> None:
    with pytest.raises(AirflowFailException, match="or a record carrying it"):
        sensor(generation_id={"conn_id": "c"}).execute(CONTEXT)
