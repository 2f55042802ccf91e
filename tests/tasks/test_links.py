"""The operator extra links: "Grok video" (the page) and the sensor's expiring upstream URL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from unittest import mock

import pytest
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow.sdk import DAG, BaseOperator
from airflow.sdk.execution_time import xcom

from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.plugins.grok_videos import our_operators
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


def _ti_key(task_id: str, map_index: int = -1) -> TaskInstanceKey:
    return TaskInstanceKey(
        dag_id="d", task_id=task_id, run_id="r", try_number=1, map_index=map_index
    )


def _values(**by_key: object) -> object:
    """XCom.get_value answering per key, as the worker's XCom does for one task instance."""
    return lambda *, ti_key, key: by_key.get(key)


@pytest.mark.parametrize("state", [None, "running", "deferred", "failed", "success"])
def test_page_link_is_made_from_the_task_instance_alone(state: str | None) -> None:
    """Whatever the task's state, on the API server (a ``TaskInstanceKey``) or a worker (the
    running task instance), the link opens the task instance's generations on the page, and
    nothing is read to make it."""
    running = mock.Mock(dag_id="d", task_id="wait", run_id="r", map_index=-1, state=state)
    with mock.patch.object(xcom.XCom, "get_value") as get_value:
        link = GrokVideoLink().get_link(BaseOperator(task_id="wait"), ti_key=running)
        served = GrokVideoLink().get_link(BaseOperator(task_id="wait"), ti_key=_ti_key("wait"))
    get_value.assert_not_called()
    # Airflow's UI draws http(s) links only (never file:// or s3://): the page plays the copy.
    assert link == served == "http://localhost:8080/grokvideo/?dag_id=d&run_id=r&task_id=wait"


def test_page_link_of_a_mapped_task_names_its_map_index() -> None:
    link = GrokVideoLink().get_link(BaseOperator(task_id="dl"), ti_key=_ti_key("dl", 3))
    assert link.endswith("/grokvideo/?dag_id=d&run_id=r&task_id=dl&map_index=3")


def test_page_link_follows_the_api_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    link = GrokVideoLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t"))
    assert link == "https://airflow.example.com/team-a/grokvideo/?dag_id=d&run_id=r&task_id=t"
    assert (
        page_link("d a", "r/1", None, "http://h:1")
        == "http://h:1/grokvideo/?dag_id=d+a&run_id=r%2F1"
    )
    assert page_link("d", "r", None, "http://h", task_id="a&b=c").endswith("task_id=a%26b%3Dc")


def test_sensor_pushes_only_the_expiring_upstream_url() -> None:
    names = [link.name for link in GrokVideoSensor.operator_extra_links]
    assert names == ["Upstream video URL (expires ~24 h)"]
    key = _ti_key("wait")
    with mock.patch.object(xcom.XCom, "get_value", side_effect=_values(return_value=SENSOR_VALUE)):
        upstream = GrokVideoUpstreamLink().get_link(BaseOperator(task_id="wait"), ti_key=key)
    assert upstream == "https://cdn.example/f/video/a.mp4"


@pytest.mark.parametrize("state", ["deferred", "failed", "up_for_retry"])
def test_upstream_link_of_a_task_stopping_without_success_asks_no_xcom(state: str) -> None:
    # As the worker computes links when a task stops, ti_key is the running task instance.
    running = mock.Mock(dag_id="d", task_id="wait", run_id="r", map_index=-1, state=state)
    with mock.patch.object(xcom.XCom, "get_value") as get_value:
        assert GrokVideoUpstreamLink().get_link(BaseOperator(task_id="wait"), ti_key=running) == ""
    get_value.assert_not_called()
    running.state = "success"
    with mock.patch.object(xcom.XCom, "get_value", side_effect=_values(return_value=SENSOR_VALUE)):
        link = GrokVideoUpstreamLink().get_link(BaseOperator(task_id="wait"), ti_key=running)
    assert link == "https://cdn.example/f/video/a.mp4"


def test_upstream_link_without_xcom_is_empty() -> None:
    with mock.patch.object(xcom.XCom, "get_value", return_value=None):
        assert (
            GrokVideoUpstreamLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t")) == ""
        )


def test_upstream_link_is_never_a_non_http_uri() -> None:
    with mock.patch.object(xcom.XCom, "get_value", return_value=DOWNLOAD_VALUE):
        assert (
            GrokVideoUpstreamLink().get_link(BaseOperator(task_id="t"), ti_key=_ti_key("t")) == ""
        )


def test_no_operator_pushes_the_page_link() -> None:
    """Our operators do not list the page link: no worker pushes it, at a deferral or an end."""
    for operator in our_operators():
        assert not any(isinstance(link, GrokVideoLink) for link in operator.operator_extra_links)


def test_the_api_server_gives_our_tasks_the_page_link_from_the_plugin() -> None:
    """Deserialized as the API server does (plugins loaded), every task of ours, mapped or
    not, has the "Grok video" link, the plugin's (computed there, from the key), beside the
    sensor's own XCom link; another operator's task has none."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.serialization import serialized_objects

    # Airflow 3.1's name for it is SerializedDAG.
    serialization = getattr(serialized_objects, "DagSerialization", None)
    if serialization is None:
        serialization = serialized_objects.SerializedDAG

    from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
    from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

    with DAG(
        "links_serialization", schedule=None, start_date=datetime(2025, 1, 1, tzinfo=timezone.utc)
    ) as dag:
        GrokVideoGenerateOperator(task_id="generate", prompt="p", conn_id="c")
        GrokVideoEditOperator(
            task_id="edit", prompt="p", conn_id="c", video_url="https://v.example/a.mp4"
        )
        GrokVideoSensor(task_id="wait", generation_id="g", conn_id="c")
        GrokVideoDownloadOperator(
            task_id="download", generation=SENSOR_VALUE, destination="file:///data"
        )
        GrokVideoDownloadOperator.partial(task_id="download_many", destination="file:///d").expand(
            generation=[SENSOR_VALUE]
        )
        EmptyOperator(task_id="other")
    restored = serialization.deserialize_dag(serialization.serialize_dag(dag))
    for task_id in ("generate", "edit", "wait", "download", "download_many"):
        task = restored.get_task(task_id)
        assert "Grok video" in task.extra_links, task_id
        link = task.operator_extra_link_dict["Grok video"]
        assert isinstance(link, GrokVideoLink), task_id
        ti = mock.Mock(key=_ti_key(task_id))
        assert task.get_extra_links(ti, "Grok video").endswith(f"&task_id={task_id}")
    wait = restored.get_task("wait")
    assert wait.operator_extra_link_dict["Upstream video URL (expires ~24 h)"].xcom_key == (
        "_link_GrokVideoUpstreamLink"
    )
    assert restored.get_task("other").extra_links == []
