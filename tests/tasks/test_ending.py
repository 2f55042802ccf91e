"""A finished wait ends in the triggerer (``TaskSuccessEvent`` / ``TaskFailedEvent`` /
``TaskSkippedEvent``), for real: ``dag.test()`` runs the trigger and hands its event to the
scheduler's own ``handle_event_submit`` (``tests/conftest.py``), as the triggerer does in a
deployment; the emulator answers.  The XComs, retries and callbacks are those of a task that
its worker ended.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from dag_bundles import dag_module
from xcom_support import comparable

from airflow_provider_grokvideo import compat
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

pytestmark = [
    pytest.mark.usefixtures("airflow_db"),
    pytest.mark.skipif(
        not compat.TRIGGER_CAN_END_TASKS, reason="this Airflow resumes ended waits on a worker"
    ),
]
DAG_FILE = "grokvideo_task_ends"
SLOW = "[emulator:seconds=2]"  # long enough to defer: the check before deferring sees it run


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    with dag_module(DAG_FILE, "grokvideo-task-end-tests") as module:
        yield module


@pytest.fixture
def callbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the test DAGs' callbacks write to (one JSON line per callback run)."""
    path = tmp_path / "callbacks.jsonl"
    monkeypatch.setenv("GROKVIDEO_TEST_CALLBACKS", str(path))
    return path


@pytest.fixture
def trigger_events(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every event the wait's trigger fired in this test (the payload or the task-end event)."""
    events: list[Any] = []
    original = GrokVideoTrigger.event

    async def event(self: GrokVideoTrigger, payload: dict[str, Any]) -> Any:
        fired = await original(self, payload)
        events.append(fired)
        return fired

    monkeypatch.setattr(GrokVideoTrigger, "event", event)
    return events


def run_conf(prompt: str) -> dict[str, Any]:
    return {"conn_id": "grokvideo_xai_default", "prompt": prompt}


def task_xcoms(run: Any, task_id: str) -> dict[str, Any]:
    """Every XCom the task left, by key."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
        return {row.key: XComModel.deserialize_value(row) for row in session.scalars(query)}


def stored_values(run: Any, task_id: str) -> list[Any]:
    """The raw stored values of the task's return value and record."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
        rows = session.scalars(query).all()
        return [row.value for row in rows if row.key in ("return_value", "grokvideo")]


def ui_link(run: Any, task_id: str, key: str) -> str:
    """The link the UI shows for the task's XCom ``key``: Airflow's own reader of a link."""
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.serialization.definitions.operatorlink import XComOperatorLink

    ti_key = TaskInstanceKey(run.dag_id, task_id, run.run_id, 1, -1)
    return XComOperatorLink(name=key, xcom_key=key).get_link(None, ti_key=ti_key)  # type: ignore[arg-type]


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def jobs(emulator: Emulator) -> int:
    return int(emulator.stats()["upstreams"]["xai"]["submissions"])


def run_db_callbacks(run: Any, dag: Any) -> list[str]:
    """Run the task callbacks the run's task-end events sent to the DAG processor, as it does
    (its own ``_execute_task_callbacks``); returns their types."""
    from airflow.dag_processing.processor import _execute_task_callbacks
    from airflow.models.db_callback_request import DbCallbackRequest
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from structlog import get_logger

    bag = SimpleNamespace(dags={dag.dag_id: dag})  # what the processor parsed: the DAG file
    kinds = []
    with create_session() as session:
        for row in session.scalars(select(DbCallbackRequest)).all():
            request = row.get_callback_request()
            if getattr(request, "ti", None) is None or request.ti.run_id != run.run_id:
                continue
            kinds.append(str(request.task_callback_type))
            _execute_task_callbacks(bag, request, get_logger())
            session.delete(row)
    return kinds


def page_generations(run: Any, generation_id: str) -> list[Any]:
    """The generations the "Grok videos" page lists for ``generation_id`` of ``run``."""
    from airflow.utils.session import create_session

    from airflow_provider_grokvideo.plugins.generations import Filters, list_generations

    with create_session() as session:
        filters = Filters(run_id=run.run_id, generation_id=generation_id)
        return list_generations(session, filters).generations


def noted(path: Path) -> list[tuple[str, str, int]]:
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [(line["callback"], line["task_id"], line["try_number"]) for line in lines]


# -- success: the same XComs as a worker's ending -----------------------------------------------


@pytest.mark.parametrize(
    ("dag_name", "task_id"), [("wait_dag", "generate"), ("sensor_dag", "wait")]
)
def test_a_succeeded_wait_ends_in_the_triggerer_with_a_workers_xcoms(
    dags: ModuleType,
    emulator: Emulator,
    dag_test_ends_tasks_like_a_deployment: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    dag_name: str,
    task_id: str,
) -> None:
    from airflow.triggers.base import TaskSuccessEvent

    dag = getattr(dags, dag_name)
    ended = dag_test_ends_tasks_like_a_deployment
    seen: dict[bool, Any] = {}
    for in_triggerer in (False, True):
        with monkeypatch.context() as patch:
            patch.setattr(compat, "TRIGGER_CAN_END_TASKS", in_triggerer)
            run = dag.test(run_conf=run_conf(f"a heron {SLOW}"))
        assert str(run.state) == "success", states(run)
        xcoms = task_xcoms(run, task_id)
        generation_id = xcoms["return_value"]["generation_id"]
        seen[in_triggerer] = comparable(xcoms, generation_id, run.run_id)
        assert [type(event) for event in ended] == [TaskSuccessEvent] * in_triggerer
        # What the UI shows: each link as Airflow's own link reader reads it.
        links = {key: ui_link(run, task_id, key) for key in xcoms if key.startswith("_link_")}
        seen[in_triggerer]["ui links"] = comparable(links, generation_id, run.run_id)
        # Stored as a worker stores them (JSON objects, which the page's SQL reads), not as
        # JSON text (what Airflow's handler makes of an event's own XComs).
        assert all(isinstance(value, dict) for value in stored_values(run, task_id)), run
    # The return value, the "grokvideo" record, every link: as the worker left them.
    assert seen[True] == seen[False]
    assert "return_value" in seen[True]
    # The page link is the API server's (tasks/links.py): neither ending pushed it.
    assert "_link_GrokVideoLink" not in seen[True]
    # A success pushes no record of its own: the page reads the return value as one. The
    # one-task wait keeps the record of its submit (with its estimate); a sensor has none.
    if task_id == "generate":
        assert seen[True]["grokvideo"]["stage"] == "submitted"
        assert seen[True]["grokvideo"]["cost_estimate"]["cost_source"] == "estimated"
    else:
        assert "grokvideo" not in seen[True]
    [generation] = page_generations(run, xcoms["return_value"]["generation_id"])
    assert generation.status == "succeeded" and generation.tasks["finished"].task_id == task_id
    assert generation.record["video_host"] and generation.record["finished_at_utc"]
    assert seen[True]["return_value"]["status"] == "succeeded"
    assert seen[True]["return_value"]["cost_source"] == "billed"
    assert seen[True]["return_value"]["conn_id"] == "grokvideo_xai_default"
    if task_id == "wait":
        assert seen[True]["ui links"]["_link_GrokVideoUpstreamLink"].startswith("http")
    # The upstream's video link rode on the event (no pass of the triggerer's supervisor of its
    # own); values never ride on the event.
    carried = set(ended[-1].xcoms or {})
    assert carried == ({"_link_GrokVideoUpstreamLink"} if task_id == "wait" else set())
    assert jobs(emulator) == 2


def test_the_generate_tasks_estimate_reaches_the_result_and_record_from_the_triggerer(
    dags: ModuleType,
    emulator: Emulator,
    dag_test_ends_tasks_like_a_deployment: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A connection with its own prices and an upstream that bills nothing: the estimate is the
    # result's cost, and the record keeps it (the trigger's kwargs carry it).
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"prices": {"grok-imagine-1.0-video-apimart": {"480p": 0.011, "720p": 0.02}}}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_PRICED", json.dumps(conn))
    run = dags.wait_dag.test(run_conf={"conn_id": "grokvideo_priced", "prompt": f"a kite {SLOW}"})
    assert str(run.state) == "success", states(run)
    assert len(dag_test_ends_tasks_like_a_deployment) == 1
    xcoms = task_xcoms(run, "generate")
    video, record = xcoms["return_value"], xcoms["grokvideo"]
    assert video["cost_source"] == "estimated" and video["conn_id"] == "grokvideo_priced"
    assert record["stage"] == "submitted"
    assert record["cost_estimate"]["cost_usd"] == video["cost_usd"]
    # What the page shows of it: the return value read as the finished record, merged.
    [generation] = page_generations(run, video["generation_id"])
    assert generation.status == "succeeded" and generation.tasks["finished"].task_id == "generate"
    assert generation.record["cost_estimate"]["cost_usd"] == video["cost_usd"]


# -- failure: from the triggerer, retried on the same id, callbacks run ---------------------------


@pytest.mark.parametrize(
    ("dag_name", "task_id"), [("wait_dag", "generate"), ("sensor_dag", "wait")]
)
def test_a_failed_generation_fails_from_the_triggerer_and_the_retry_polls_the_same_id(
    dags: ModuleType,
    emulator: Emulator,
    dag_test_ends_tasks_like_a_deployment: list[Any],
    trigger_events: list[Any],
    callbacks: Path,
    capfd: pytest.CaptureFixture[str],
    dag_name: str,
    task_id: str,
) -> None:
    from airflow.triggers.base import TaskFailedEvent

    run = getattr(dags, dag_name).test(run_conf=run_conf(f"a storm {SLOW} [emulator:fail]"))
    assert str(run.state) == "failed"
    [ti] = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    # Try 1 ended in the triggerer and went up for retry; try 2 read the same job's answer
    # once on the worker and failed for good (the answer will not change), submitting nothing.
    assert ti.try_number == 2 and str(ti.state) == "failed"
    assert [type(event) for event in dag_test_ends_tasks_like_a_deployment] == [TaskFailedEvent]
    assert len(trigger_events) == 1
    record = task_xcoms(run, task_id)["grokvideo"]
    assert record["status"] == "failed" and record["error"]
    assert jobs(emulator) == 1
    # The upstream's code and message, in the trigger's log lines (the task's log in the UI).
    out, err = capfd.readouterr()
    assert re.search(
        rf"generation {record['generation_id']} failed.*: .*the task ends failed here", out + err
    )
    # The retry callback went to the DAG processor; the final failure ran on the worker.
    assert run_db_callbacks(run, getattr(dags, dag_name)) == ["up_for_retry"]
    assert noted(callbacks) == [("failure", task_id, 2), ("retry", task_id, 1)]


def test_a_timeout_with_soft_fail_skips_from_the_triggerer(
    dags: ModuleType, emulator: Emulator, dag_test_ends_tasks_like_a_deployment: list[Any]
) -> None:
    from airflow.triggers.base import TaskSkippedEvent

    run = dags.soft_fail_dag.test(run_conf=run_conf("a glacier [emulator:seconds=30]"))
    assert states(run) == {"generate": "success", "wait": "skipped"}
    assert [type(event) for event in dag_test_ends_tasks_like_a_deployment] == [TaskSkippedEvent]
    xcoms = task_xcoms(run, "wait")
    assert xcoms["grokvideo"]["status"] == "timeout"
    assert "return_value" not in xcoms
    assert xcoms["_link_GrokVideoUpstreamLink"] == ""
    assert "_link_GrokVideoLink" not in xcoms  # the API server's (tasks/links.py)


# -- what resumes on a worker, as before --------------------------------------------------------


def test_a_task_with_a_success_callback_resumes_on_a_worker(
    dags: ModuleType,
    emulator: Emulator,
    dag_test_ends_tasks_like_a_deployment: list[Any],
    callbacks: Path,
) -> None:
    run = dags.success_callback_dag.test(run_conf=run_conf(f"a lantern {SLOW}"))
    assert str(run.state) == "success"
    assert dag_test_ends_tasks_like_a_deployment == []  # the DAG processor would drop it
    assert noted(callbacks) == [("success", "generate", 1)]


def test_what_only_a_worker_can_do_resumes_on_a_worker(emulator: Emulator) -> None:
    from datetime import datetime

    from airflow.sdk import DAG, Asset

    from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="wait", map_index=-1)
    with DAG("d", schedule=None, start_date=datetime(2025, 1, 1)):
        common = {"conn_id": "grokvideo_xai_default", "generation_id": "job-1"}
        plain = GrokVideoSensor(task_id="wait", **common)
        resumed = [
            GrokVideoSensor(task_id="off", end_from_trigger=False, **common),
            GrokVideoSensor(task_id="outlets", outlets=[Asset("videos")], **common),
            GrokVideoSensor(task_id="success", on_success_callback=print, **common),
            GrokVideoSensor(task_id="no_push", do_xcom_push=False, **common),
        ]
    spec = plain._task_end_spec("job-1", {"ti": ti})  # type: ignore[arg-type]
    assert spec is not None
    assert spec["task"] == {"dag_id": "d", "task_id": "wait", "run_id": "r", "map_index": -1}
    assert spec["video_links"] == ["_link_GrokVideoUpstreamLink"]
    assert "page_links" not in spec  # the page link is the API server's (tasks/links.py)
    for sensor in resumed:
        assert sensor._task_end_spec("job-1", {"ti": ti}) is None, sensor.task_id  # type: ignore[arg-type]


def test_dag_test_of_airflow_resumes_an_ended_task_which_reads_its_answer_once(
    dags: ModuleType,
    emulator: Emulator,
    dag_test_ends_tasks_like_a_deployment: list[Any],
    trigger_events: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.definitions import dag as dag_module
    from airflow.triggers.base import TaskSuccessEvent

    # Airflow's own dag.test(): the task is run again with event="success".
    for name in ("_run_task", "_run_inline_trigger"):
        monkeypatch.setattr(dag_module, name, getattr(dag_module, name).__wrapped__)
    for dag, task_id in ((dags.wait_dag, "generate"), (dags.sensor_dag, "wait")):
        run = dag.test(run_conf=run_conf(f"a comet {SLOW}"))
        assert str(run.state) == "success", states(run)
        assert task_xcoms(run, task_id)["return_value"]["status"] == "succeeded"
    assert [type(event) for event in trigger_events] == [TaskSuccessEvent] * 2
    assert jobs(emulator) == 2


# -- the trigger's kwargs and events ------------------------------------------------------------


def test_the_trigger_kwargs_stay_small_and_an_error_resumes_on_a_worker() -> None:
    from airflow.triggers.base import BaseTaskEndEvent

    from airflow_provider_grokvideo.tasks.ending import task_end_spec

    spec = task_end_spec(
        cost_estimate={"cost_ticks": 1, "cost_usd": "0.1", "cost_source": "estimated"},
        record_estimate={"cost_ticks": 1, "cost_usd": "0.1", "cost_source": "estimated"},
        skip_on_failure=False,
        video_links=[],
        task={"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1},
    )
    trigger = GrokVideoTrigger("conn", "job-1", deadline=1e10, task_end=spec)
    classpath, kwargs = trigger.serialize()
    assert GrokVideoTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert len(json.dumps(kwargs)) < 1000
    payload = {
        "status": "error",
        "generation_id": "job-1",
        "generation": None,
        "message": "HTTP 401",
        "conn_id": "conn",
    }
    event = asyncio.run(trigger.event(payload))
    assert not isinstance(event, BaseTaskEndEvent) and event.payload == payload
    odd = {**payload, "status": "succeeded", "message": "no generation"}
    assert not isinstance(asyncio.run(trigger.event(odd)), BaseTaskEndEvent)


def test_a_success_pushes_its_value_alone_unless_the_page_could_not_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One value per trigger-ended success (the page reads it as the finished record); the
    record too where the value may not be in the ``xcom`` table (a custom XCom backend), or is
    not pushed at all (``do_xcom_push=False``).  A failure always pushes its record."""
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time import xcom as xcom_module

    from airflow_provider_grokvideo.tasks.catalog import result_record
    from airflow_provider_grokvideo.tasks.ending import (
        success_needs_record,
        task_end,
        task_end_spec,
    )

    def spec(record_success: bool) -> dict[str, Any]:
        return task_end_spec(
            cost_estimate=None,
            record_estimate=None,
            skip_on_failure=False,
            video_links=[],
            task={"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1},
            record_success=record_success,
        )

    done = {
        "generation_id": "g1",
        "status": "succeeded",
        "video_urls": ["https://cdn.example/v.mp4"],
        "expires_at": 1e10,
    }
    payload = {"status": "succeeded", "generation": done, "message": "", "conn_id": "c"}
    end = task_end(payload, spec(False), "c")
    assert end is not None and end[0] == "success" and set(end[1]) == {"return_value"}
    record = result_record(end[1]["return_value"], 1e9)
    assert record is not None and record["status"] == "succeeded"
    assert record["video_host"] == "cdn.example" and record["finished_at"] == 1e9
    end = task_end(payload, spec(True), "c")
    assert end is not None and set(end[1]) == {"return_value", "grokvideo"}
    failed = {**done, "status": "failed", "error_message": "no"}
    end = task_end({**payload, "status": "failed", "generation": failed}, spec(False), "c")
    assert end is not None and end[0] == "failed" and end[1]["grokvideo"]["error"] == "no"

    assert not success_needs_record(SimpleNamespace(do_xcom_push=True))
    assert success_needs_record(SimpleNamespace(do_xcom_push=False))

    class ObjectStoreXCom(BaseXCom):
        @staticmethod
        def serialize_value(value: Any, **kwargs: Any) -> Any:
            return "s3://bucket/xcom/1"

    monkeypatch.setattr(xcom_module, "XCom", ObjectStoreXCom)
    assert success_needs_record(SimpleNamespace(do_xcom_push=True))


async def test_a_triggerer_sends_every_xcom_of_an_ending_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a triggerer, the ending's XComs go to its supervisor together (one pass of its loop
    serves them all), each as a worker's push would carry it: the values through the XCom
    backend, the links as they are.  A recording channel stands in for the supervisor's,
    which only a running triggerer has (the deployment test runs it)."""
    from airflow.sdk.execution_time import task_runner

    from airflow_provider_grokvideo.tasks.ending import push_xcoms

    sent: list[Any] = []
    in_flight: list[int] = []

    class Channel:
        async def asend(self, msg: Any) -> None:
            sent.append(msg)
            in_flight.append(len(sent))
            await asyncio.sleep(0.01)  # the supervisor's answer comes later
            in_flight.append(-len(sent))

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Channel(), raising=False)
    task = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": 3}
    result = {"generation_id": "g1", "status": "succeeded", "cost_usd": "0.5"}
    await push_xcoms(
        task, {"return_value": result, "grokvideo": {"generation_id": "g1"}, "_link_L": "http://x"}
    )
    assert [(m.key, m.map_index, m.task_id) for m in sent] == [
        ("return_value", 3, "t"),
        ("grokvideo", 3, "t"),
        ("_link_L", 3, "t"),
    ]
    assert in_flight[:3] == [1, 2, 3]  # all three sent before the first answer
    assert sent[0].value == result and sent[2].value == "http://x"


async def test_the_triggerers_own_report_waits_behind_one_ending_not_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thousand endings at once must not hold back the triggerer's report of fired events
    (its task-end events ride on it), which waits on the same channel: endings take their turn
    one at a time, first come first served.  The channel carries one round trip at a time, as
    the Task SDK's does (a lock around each request and its answer)."""
    from airflow.sdk.execution_time import task_runner

    from airflow_provider_grokvideo.tasks.ending import push_xcoms

    sent: list[Any] = []
    one_at_a_time = asyncio.Lock()
    supervisor_busy = asyncio.Event()

    class Channel:
        async def asend(self, msg: Any) -> None:
            async with one_at_a_time:
                sent.append(msg)
                await supervisor_busy.wait()  # its answer, once its pass comes

    channel = Channel()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", channel, raising=False)
    endings = [
        asyncio.create_task(
            push_xcoms(
                {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": index},
                {"return_value": {"generation_id": f"g{index}"}, "grokvideo": {"i": index}},
            )
        )
        for index in range(50)
    ]
    for _ in range(20):  # every ending queued (for its turn, or on the channel)
        await asyncio.sleep(0)
    report = asyncio.create_task(channel.asend("report"))
    for _ in range(20):
        await asyncio.sleep(0)
    supervisor_busy.set()
    await asyncio.gather(*endings, report)
    assert sent.index("report") <= 2  # behind one ending's two XComs at most, not 100
    pushed = [msg.map_index for msg in sent if msg != "report"]
    assert len(pushed) == 100
    assert pushed == sorted(pushed)  # in the order the endings came
