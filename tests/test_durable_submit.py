"""Durable submits and the one-task wait, for real: ``dag.test()`` runs with retries, Airflow's
own task state store (the metadata DB behind the execution API) and the emulator.

A try is ended mid-submit or mid-wait by the task's ``execution_timeout``, as a killed worker
ends it: the task's retry then meets what that try recorded.  The emulator's stats count the
jobs created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dag_bundles import dag_module

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.tasks.submit_record import RECORD_KEY
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    """The test DAG file, imported, and registered as a DAG bundle beside the DAGs folder."""
    with dag_module("grokvideo_durable_submits", "grokvideo-durable-submit-tests") as module:
        yield module


@pytest.fixture
def triggers_run(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The events of every trigger run in this test, each with the ``generation_id`` XCom its
    task had pushed when the trigger started."""
    events: list[dict[str, Any]] = []
    original = GrokVideoTrigger.wait

    async def wait(self: GrokVideoTrigger) -> dict[str, Any]:
        pushed = pushed_generation_ids()
        payload = await original(self)
        events.append({**payload, "pushed_before": pushed})
        return payload

    monkeypatch.setattr(GrokVideoTrigger, "wait", wait)
    return events


def jobs(emulator: Emulator, upstream: str = "xai") -> int:
    return int(emulator.stats()["upstreams"][upstream]["submissions"])


def requests(emulator: Emulator, upstream: str = "xai") -> int:
    """Every request that reached the upstream's prefix (a submit that never answered too)."""
    return int(emulator.stats()["upstreams"][upstream]["requests"])


def task_instances(run: Any) -> list[Any]:
    return sorted(run.get_task_instances(), key=lambda ti: ti.map_index)


def pushed_generation_ids() -> list[Any]:
    """The id of every generate task's ``grokvideo`` XCom record of every run so far."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.key == "grokvideo")).all()
        return [XComModel.deserialize_value(row)["generation_id"] for row in rows]


def generation_ids(run: Any) -> list[str]:
    """The generate tasks' ids, by map index, from their one XCom record."""
    return [record["generation_id"] for record in xcom_values(run, key="grokvideo")]


def xcom_values(run: Any, key: str = "return_value") -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids="generate", key=key
        )
        rows = sorted(session.scalars(query).all(), key=lambda r: (r.run_id, r.map_index))
        return [XComModel.deserialize_value(row) for row in rows]


def xcom_keys(run: Any) -> list[str]:
    """The XCom keys the generate task left (one row each per map index)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="generate")
        return sorted({row.key for row in session.scalars(query).all()})


def records(run: Any) -> dict[int, dict[str, Any]]:
    """The submit records in Airflow's task state store, by map index."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(TaskStateStoreModel).where(
                TaskStateStoreModel.dag_id == run.dag_id,
                TaskStateStoreModel.run_id == run.run_id,
                TaskStateStoreModel.key == RECORD_KEY,
            )
        ).all()
        return {row.map_index: _json(row.value) for row in rows}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def conf(emulator: Emulator, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"conn_id": "grokvideo_xai_default", "prompt": prompt, **extra}


# -- nothing recorded: submit, and record ------------------------------------------------------


def test_first_try_submits_once_and_records_marker_then_id(
    dags: ModuleType, emulator: Emulator
) -> None:
    run = dags.submit_dag.test(run_conf=conf(emulator, "a kite over the dunes"))
    assert str(run.state) == "success"
    [generation_id] = xcom_values(run)
    assert generation_ids(run) == [generation_id]
    # Each fact once: the id as the return value and in the record, nothing else beside.
    assert xcom_keys(run) == ["_link_GrokVideoLink", "grokvideo", "return_value"]
    assert jobs(emulator) == 1
    record = records(run)[-1]
    assert record["generation_id"] == generation_id
    assert (record["conn_id"], record["upstream"], record["try_number"]) == (
        "grokvideo_xai_default",
        "xai",
        1,
    )
    assert record["sent_at"] <= record["answered_at"]
    assert record["fingerprint"].startswith("sha256:")
    assert "emulator-key" not in json.dumps(record)


# -- marker without id: the try died mid-submit ------------------------------------------------


def test_retry_after_a_try_died_mid_submit_fails_without_submitting(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The submit's answer takes longer than the try lives: the try ends mid-submit.
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    run = dags.submit_dag.test(run_conf=conf(emulator, "a lighthouse at night"))
    assert str(run.state) == "failed"
    [ti] = task_instances(run)
    assert str(ti.state) == "failed"
    assert ti.try_number == 2  # the retry ran, and did not retry again (AirflowFailException)
    record = records(run)[-1]
    assert record["generation_id"] is None and record["try_number"] == 1
    assert xcom_values(run) == []
    # One request, the dead try's (whose job may or may not exist); the retry sent none.
    assert requests(emulator) == 1
    assert jobs(emulator) <= 1


def test_the_refusal_says_when_and_how_to_submit_anyway(
    dags: ModuleType, emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    run = dags.submit_dag.test(run_conf=conf(emulator, "a lighthouse at dawn"))
    assert str(run.state) == "failed"
    sent_at = records(run)[-1]["sent_at"]
    logged = capfd.readouterr()
    text = logged.out + logged.err
    assert "Not submitting: try 1 of this task sent a submit to xai" in text
    assert sent_at in text
    assert "may exist upstream and be billed" in text
    assert "resubmit_unknown=True" in text
    assert f"/taskInstances/generate/state-store/{RECORD_KEY}" in text


def test_resubmit_unknown_submits_again_on_purpose(dags: ModuleType, emulator: Emulator) -> None:
    emulator.inject("slow", count=1, upstream="xai", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf=conf(emulator, "a lighthouse at noon", resubmit_unknown=True)
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [generation_id] = xcom_values(run)
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 2)
    assert requests(emulator) == 2  # asked for: the unknown submit, and the new one
    assert emulator.job(generation_id) is not None


# -- APIMart, whose host honors Idempotency-Key: a lost answer needs no human ---------------------


@pytest.fixture
def apimart(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """An xcompute connection whose host is said to honor idempotency keys."""
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"idempotent_submits": True}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_APIMART", json.dumps(conn))
    return "grokvideo_apimart"


def test_a_lost_answer_on_apimart_is_replayed_in_the_same_try(
    dags: ModuleType, emulator: Emulator, apimart: str
) -> None:
    emulator.inject("lost-answer", upstream="xcompute", endpoint="submit")
    run = dags.submit_dag.test(
        run_conf={"conn_id": apimart, "prompt": "a kite, lost once", "resubmit_unknown": False}
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 1
    [generation_id] = xcom_values(run)
    counts = emulator.stats()["upstreams"]["xcompute"]
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)  # paid once
    record = records(run)[-1]
    assert record["generation_id"] == generation_id
    assert record["idempotency_key"].startswith("grokvideo-")


def test_a_try_that_died_mid_submit_on_apimart_is_replayed_by_the_next(
    dags: ModuleType, emulator: Emulator, apimart: str
) -> None:
    # The job is made at once, its answer comes after the try has ended (a killed worker).
    emulator.inject("late-answer", upstream="xcompute", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf={"conn_id": apimart, "prompt": "a kite, try 1 died", "resubmit_unknown": False}
    )
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [generation_id] = xcom_values(run)
    counts = emulator.stats()["upstreams"]["xcompute"]
    assert (counts["submissions"], counts["idempotent_replays"]) == (1, 1)
    assert emulator.job(generation_id) is not None
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 2)


def test_the_same_death_on_the_xcompute_white_label_is_refused_as_before(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The white-label documents nothing about the header: keys are sent, never relied on.
    emulator.inject("late-answer", upstream="xcompute", endpoint="submit", delay=6)
    run = dags.submit_dag.test(
        run_conf={
            "conn_id": "grokvideo_xcompute_default",
            "prompt": "a kite, white-label",
            "resubmit_unknown": False,  # dag.test() keeps an earlier run's conf in the params
        }
    )
    assert str(run.state) == "failed"
    assert emulator.stats()["upstreams"]["xcompute"]["submit_requests"] == 1


# -- id recorded: carry on with it -------------------------------------------------------------


def test_retry_after_a_try_died_mid_wait_reattaches_without_submitting(
    dags: ModuleType, emulator: Emulator
) -> None:
    # The job outlasts the first try (ended after TRY_SECONDS), not the second.
    seconds = dags.TRY_SECONDS + 2
    run = dags.poll_dag.test(run_conf=conf(emulator, f"a glacier [emulator:seconds={seconds}]"))
    assert str(run.state) == "success"
    [ti] = task_instances(run)
    assert ti.try_number == 2
    [video] = xcom_values(run)
    assert video["status"] == "succeeded" and video["video_urls"]
    [generation_id] = generation_ids(run)
    assert video["generation_id"] == generation_id
    record = records(run)[-1]
    assert (record["generation_id"], record["try_number"]) == (generation_id, 1)
    assert jobs(emulator) == 1


# -- one-task wait in the triggerer --------------------------------------------------------------


def test_generate_and_wait_defers_and_returns_the_generation(
    dags: ModuleType, emulator: Emulator, triggers_run: list[dict[str, Any]]
) -> None:
    run = dags.wait_dag.test(run_conf=conf(emulator, "a hot-air balloon [emulator:seconds=2]"))
    assert str(run.state) == "success"
    [video] = xcom_values(run)
    [generation_id] = generation_ids(run)
    assert video["status"] == "succeeded" and video["generation_id"] == generation_id
    assert video["video_urls"][0].startswith(emulator.url)
    assert xcom_keys(run) == ["_link_GrokVideoLink", "grokvideo", "return_value"]
    # The trigger ran once; the id was in XCom before it started.
    [event] = triggers_run
    assert event["status"] == "succeeded"
    assert generation_id in event["pushed_before"]
    assert jobs(emulator) == 1
    # The "Grok video" link works on the one task too.
    [link] = xcom_values(run, key="_link_GrokVideoLink")
    assert "/grokvideo/?" in link and f"generation_id={generation_id}" in link  # the page


def test_generate_and_wait_finishes_on_the_worker_when_the_job_has_already_ended(
    dags: ModuleType, emulator: Emulator, triggers_run: list[dict[str, Any]]
) -> None:
    run = dags.wait_dag.test(run_conf=conf(emulator, "a snowflake [emulator:seconds=0]"))
    assert str(run.state) == "success"
    [video] = xcom_values(run)
    assert video["status"] == "succeeded"
    assert triggers_run == []  # never deferred
    assert jobs(emulator) == 1


def test_generate_and_wait_fails_a_failed_generation_without_retrying(
    dags: ModuleType, emulator: Emulator
) -> None:
    from airflow_provider_grokvideo import compat

    run = dags.wait_dag.test(run_conf=conf(emulator, "a storm [emulator:fail]"))
    assert str(run.state) == "failed"
    [ti] = task_instances(run)
    # retries=2, not all used: the upstream's answer will not change.  A failure that the
    # trigger ends goes through Airflow's retry rule once (3.3.1+): the retry reads the same
    # job's answer on the worker and fails for good, submitting nothing.
    assert ti.try_number == (2 if compat.TRIGGER_CAN_END_TASKS else 1)
    assert jobs(emulator) == 1


def test_mapped_generate_and_wait_keeps_one_record_per_map_index(
    dags: ModuleType, emulator: Emulator
) -> None:
    run = dags.mapped_dag.test(run_conf=conf(emulator, "unused"))
    assert str(run.state) == "success"
    videos = xcom_values(run)
    ids = generation_ids(run)
    assert [video["generation_id"] for video in videos] == ids
    assert len(set(ids)) == 3
    by_index = records(run)
    assert sorted(by_index) == [0, 1, 2]
    assert [by_index[i]["generation_id"] for i in range(3)] == ids
    assert len({record["fingerprint"] for record in by_index.values()}) == 3  # three prompts
    assert jobs(emulator) == 3
