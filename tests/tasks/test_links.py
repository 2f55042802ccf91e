"""The operator extra links: "Grok video" (the page) and the sensor's expiring upstream URL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from unittest import mock

import pytest
from airflow.sdk import DAG, BaseOperator
from airflow.sdk.execution_time import xcom
from airflow.sdk.types import TaskInstanceKey

from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor
from airflow_provider_grokvideo.tasks.links import (
    GrokVideoLink,
    GrokVideoUpstreamLink,
    page_link,
    video_link_from_xcom,
)

SENSOR_VALUE = VideoGeneration(
    generation_id="task_01",
    status="succeeded",
    progress=100,
    video_urls=["https://cdn.example/f/video/a.mp4", "https://cdn.example/f/video/b.mp4"],
    thumbnail_url="https://cdn.example/f/image/a.jpg",
    expires_at=1762940095,
).to_dict()
DOWNLOAD_VALUE = ["s3://aws_default@bucket/videos/task_01-1.mp4", "file:///data/task_01-2.mp4"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DOWNLOAD_VALUE, "s3://aws_default@bucket/videos/task_01-1.mp4"),
        (tuple(DOWNLOAD_VALUE), "s3://aws_default@bucket/videos/task_01-1.mp4"),
        (SENSOR_VALUE, "https://cdn.example/f/video/a.mp4"),
        (json.dumps(SENSOR_VALUE), "https://cdn.example/f/video/a.mp4"),
        (json.dumps(DOWNLOAD_VALUE), "s3://aws_default@bucket/videos/task_01-1.mp4"),
        ("file:///data/x.mp4", "file:///data/x.mp4"),
        ({"generation_id": "x", "status": "failed", "video_urls": []}, ""),
        ([], ""),
        (None, ""),
        (42, ""),
        ("not a uri", ""),
        ("{not json", ""),
    ],
)
def test_video_link_from_xcom(value: object, expected: str) -> None:
    assert video_link_from_xcom(value) == expected


def test_link_is_named_grok_video() -> None:
    assert GrokVideoLink().name == "Grok video"
    assert GrokVideoLink().xcom_key == "_link_GrokVideoLink"


def _ti_key(task_id: str) -> TaskInstanceKey:
    return TaskInstanceKey(dag_id="d", task_id=task_id, run_id="r", try_number=1, map_index=-1)


def _values(**by_key: object) -> object:
    """XCom.get_value answering per key, as the worker's XCom does for one task instance."""
    return lambda *, ti_key, key: by_key.get(key)


RECORD = {"generation_id": "task_01", "stage": "stored", "status": "succeeded", "rank": 31}


def test_download_link_opens_the_video_on_the_page_over_http() -> None:
    operator = GrokVideoDownloadOperator(
        task_id="download", generation=SENSOR_VALUE, destination="file:///data"
    )
    key = _ti_key("download")
    values = _values(grokvideo=RECORD, return_value=DOWNLOAD_VALUE)
    with mock.patch.object(xcom.XCom, "get_value", side_effect=values):
        link = GrokVideoLink().get_link(operator, ti_key=key)
    # Airflow's UI draws http(s) links only (never file:// or s3://): the page plays the copy.
    assert link == "http://localhost:8080/grokvideo/?dag_id=d&run_id=r&generation_id=task_01"


def test_page_link_follows_the_api_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    values = _values(grokvideo=RECORD)
    with mock.patch.object(xcom.XCom, "get_value", side_effect=values):
        link = GrokVideoLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t"))
    assert link.startswith("https://airflow.example.com/team-a/grokvideo/?dag_id=d&run_id=r")
    assert (
        page_link("d a", "r/1", None, "http://h:1")
        == "http://h:1/grokvideo/?dag_id=d+a&run_id=r%2F1"
    )


def test_sensor_links_the_page_and_the_expiring_upstream_url() -> None:
    names = [link.name for link in GrokVideoSensor.operator_extra_links]
    assert names == ["Grok video", "Upstream video URL (expires ~24 h)"]
    key = _ti_key("wait")
    # A sensor of an older version pushed no record: its return value names the generation.
    with mock.patch.object(xcom.XCom, "get_value", side_effect=_values(return_value=SENSOR_VALUE)):
        page = GrokVideoLink().get_link(BaseOperator(task_id="wait"), ti_key=key)
        upstream = GrokVideoUpstreamLink().get_link(BaseOperator(task_id="wait"), ti_key=key)
    assert page.endswith("/grokvideo/?dag_id=d&run_id=r&generation_id=task_01")
    assert upstream == "https://cdn.example/f/video/a.mp4"


@pytest.mark.parametrize("state", ["deferred", "failed", "up_for_retry"])
def test_link_of_a_task_stopping_without_success_asks_no_xcom(state: str) -> None:
    # As the worker computes links when a task stops, ti_key is the running task instance.
    running = mock.Mock(dag_id="d", task_id="wait", run_id="r", map_index=-1, state=state)
    with mock.patch.object(xcom.XCom, "get_value") as get_value:
        for link in (GrokVideoLink(), GrokVideoUpstreamLink()):
            assert link.get_link(BaseOperator(task_id="wait"), ti_key=running) == ""
    get_value.assert_not_called()
    running.state = "success"
    with mock.patch.object(xcom.XCom, "get_value", side_effect=_values(return_value=SENSOR_VALUE)):
        link = GrokVideoUpstreamLink().get_link(BaseOperator(task_id="wait"), ti_key=running)
    assert link == "https://cdn.example/f/video/a.mp4"


def test_a_deferring_wait_links_its_page_at_once_without_reading_an_xcom() -> None:
    """At the deferral the worker pushes the page link (the page shows the running video), so
    that the trigger ending the task has one XCom less to write; the upstream URL stays empty."""
    deferring = mock.Mock(dag_id="d", task_id="wait", run_id="r", map_index=-1, state="deferred")
    waiting = BaseOperator(task_id="wait")
    waiting._grokvideo_generation_id = "task_01"  # type: ignore[attr-defined]
    with mock.patch.object(xcom.XCom, "get_value") as get_value:
        page = GrokVideoLink().get_link(waiting, ti_key=deferring)
        upstream = GrokVideoUpstreamLink().get_link(waiting, ti_key=deferring)
    get_value.assert_not_called()
    assert page.endswith("/grokvideo/?dag_id=d&run_id=r&generation_id=task_01")
    assert upstream == ""


def test_get_link_without_xcom_is_empty() -> None:
    with mock.patch.object(xcom.XCom, "get_value", return_value=None):
        assert GrokVideoLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t")) == ""
        assert (
            GrokVideoUpstreamLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t")) == ""
        )


def test_upstream_link_is_never_a_non_http_uri() -> None:
    with mock.patch.object(xcom.XCom, "get_value", return_value=DOWNLOAD_VALUE):
        assert (
            GrokVideoUpstreamLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t")) == ""
        )


def test_download_operator_declares_the_link_and_it_survives_serialization() -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    assert any(
        isinstance(link, GrokVideoLink) for link in GrokVideoDownloadOperator.operator_extra_links
    )
    with DAG(
        "links_serialization", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        GrokVideoDownloadOperator(
            task_id="download", generation=SENSOR_VALUE, destination="file:///data"
        )
        GrokVideoDownloadOperator.partial(task_id="download_many", destination="file:///d").expand(
            generation=[SENSOR_VALUE]
        )
    restored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    for task_id in ("download", "download_many"):
        task = restored.get_task(task_id)
        assert "Grok video" in task.extra_links
        assert task.operator_extra_link_dict["Grok video"].xcom_key == "_link_GrokVideoLink"
