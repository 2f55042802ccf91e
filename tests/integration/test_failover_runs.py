"""The wait polls the connection that made the video: ``dag.test()`` runs against the emulator.

After a failover the generate task's ``grokvideo`` record names the connection that made the
video, not the task's first one.  The DAGs (``tests/dags/grokvideo_failover_runs.py``) give
every sensor ``failover_first`` (Mountsea) and make every video through ``failover_made``
(xAI): Mountsea answers 404 for an xAI id, so a wait that succeeds polled where the video was
made, and the emulator's counters say which upstream was read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from dag_bundles import dag_module

from airflow_provider_grokvideo.emulator import Emulator

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    """The test DAG file, imported, and registered as a DAG bundle beside the DAGs folder."""
    with dag_module("grokvideo_failover_runs", "grokvideo-failover-wait-tests") as module:
        yield module


@pytest.fixture
def connections(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("AIRFLOW_CONN_FAILOVER_MADE", emulator.airflow_connection("xai"))
    monkeypatch.setenv("AIRFLOW_CONN_FAILOVER_FIRST", emulator.airflow_connection("mountsea"))
    return emulator


def reads(emulator: Emulator, upstream: str) -> int:
    return int(emulator.stats()["upstreams"][upstream]["status_reads"])


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def returned(run: Any, task_id: str) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value"
        )
        rows = sorted(session.scalars(query).all(), key=lambda row: row.map_index)
        return [XComModel.deserialize_value(row) for row in rows]


def test_the_sensor_polls_the_connection_the_record_names(dags, connections, capfd) -> None:
    run = dags.follows.test()
    assert set(states(run).values()) == {"success"}, states(run)
    made = returned(run, "generate")[0]
    record = connections.job(made)
    assert record is not None and record["upstream"] == "xai"
    for task_id in ("wait", "poke", "wait_on_record"):  # deferred, poke mode, the record given
        (result,) = returned(run, task_id)
        assert result["generation_id"] == made and result["status"] == "succeeded"
    # Every status read went to xAI (the connection that made it), none to Mountsea.
    assert reads(connections, "mountsea") == 0
    assert reads(connections, "xai") >= 3
    # One line per sensor says so (task logs go to the output under dag.test()).
    logged = "".join(capfd.readouterr())
    said = f"generation {made} was made through connection failover_made"
    assert logged.count(f"{said} (task generate's record), not failover_first") == 2
    assert logged.count(f"{said} (its record), not failover_first") == 1


def test_each_mapped_sensor_polls_its_own_generate_tasks_connection(dags, connections) -> None:
    run = dags.mapped.test()
    assert set(states(run).values()) == {"success"}, states(run)
    made = returned(run, "generate")
    waited = [result["generation_id"] for result in returned(run, "wait")]
    assert waited == made and len(set(made)) == 2
    assert reads(connections, "mountsea") == 0


def test_a_record_of_another_generation_is_not_followed(dags, connections) -> None:
    run = dags.other.test()
    assert set(states(run).values()) == {"success"}, states(run)
    (made,) = returned(run, "generate")
    assert connections.job(made)["upstream"] == "mountsea"  # type: ignore[index]
    assert returned(run, "wait")[0]["generation_id"] == made
    assert reads(connections, "xai") == 0 and reads(connections, "mountsea") >= 1


# -- the generate task fails over only when its connection surely made no job ------------------


@pytest.fixture
def down(connections: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """``failover_down``: an xcompute connection to a port nobody listens on; outages end."""
    import socket

    with socket.socket() as sock:  # a free port, closed again: connects are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = json.loads(connections.airflow_connection("xcompute"))
    conn["host"] = f"http://127.0.0.1:{port}/xcompute"
    monkeypatch.setenv("AIRFLOW_CONN_FAILOVER_DOWN", json.dumps(conn))
    yield connections
    connections.set_outages({name: None for name in ("xcompute", "mountsea", "xai")})


def submits(emulator: Emulator, upstream: str) -> int:
    """Every request that reached the upstream (faults answered before the handler too)."""
    return int(emulator.stats()["upstreams"][upstream]["requests"])


def jobs(emulator: Emulator, upstream: str) -> int:
    return int(emulator.stats()["upstreams"][upstream]["submissions"])


def record_of(run: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids="generate", key="grokvideo"
        )
        (row,) = session.scalars(query).all()
        return XComModel.deserialize_value(row)


def conf(first: str, fallbacks: str, **extra: Any) -> dict[str, Any]:
    return {"conn_id": first, "fallbacks": fallbacks, "duration": 6, **extra}


# (the first connection, how it fails, its fallback, the upstream the fallback reaches)
NO_JOB_OUTCOMES = {
    "the connection never opened": ("failover_down", None, "failover_made", "xai"),
    "the key refused": ("failover_first", "401", "failover_made", "xai"),
    "out of balance (402)": ("failover_first", "402", "failover_made", "xai"),
    "out of credits (xAI's 429)": ("failover_made", "credits", "failover_first", "mountsea"),
    "429 past its retries": ("failover_first", "429", "failover_made", "xai"),
}


@pytest.mark.parametrize("outcome", list(NO_JOB_OUTCOMES))
def test_a_video_is_made_on_the_fallback_after_an_outcome_that_made_no_job(
    dags: ModuleType, down: Emulator, outcome: str
) -> None:
    first, failure, fallback, made_on = NO_JOB_OUTCOMES[outcome]
    first_upstream = {"failover_down": "xcompute", "failover_first": "mountsea"}.get(first, "xai")
    if failure == "429":  # every attempt of the hook's retries refused
        down.inject("429", count=5, upstream=first_upstream, endpoint="submit", retry_after=0.05)
    elif failure is not None:
        down.set_outage(first_upstream, failure)
    run = dags.failover.test(run_conf=conf(first, fallback, prompt=f"failover: {outcome}"))
    assert set(states(run).values()) == {"success"}, states(run)
    (made,) = returned(run, "generate")
    assert down.job(made)["upstream"] == made_on  # type: ignore[index]
    assert jobs(down, first_upstream) == 0 and jobs(down, made_on) == 1
    # The record names the connection that made it; the sensor, given the first, polled it.
    assert record_of(run)["conn_id"] == fallback
    (result,) = returned(run, "wait")
    assert result["generation_id"] == made and result["status"] == "succeeded"
    assert result["conn_id"] == fallback  # the wait's result names it too


def test_a_request_one_upstream_refuses_by_its_limits_goes_to_the_next_unsent(
    dags: ModuleType, down: Emulator
) -> None:
    # Mountsea takes 6, 10, 12, 16 or 20 s; xAI takes 7: Mountsea is passed over, unasked.
    run = dags.failover.test(run_conf=conf("failover_first", "failover_made", duration=7))
    assert set(states(run).values()) == {"success"}, states(run)
    assert submits(down, "mountsea") == 0 and jobs(down, "xai") == 1
    assert record_of(run)["conn_id"] == "failover_made"


def test_a_request_no_connection_accepts_is_refused_before_any_is_tried(
    dags: ModuleType, down: Emulator
) -> None:
    run = dags.failover.test(run_conf=conf("failover_first", "failover_made", duration=99))
    assert states(run)[("generate", -1)] == "failed"
    assert submits(down, "mountsea") == 0 and submits(down, "xai") == 0


@pytest.mark.parametrize("fault", ["500", "503", "lost-answer"])
def test_no_failover_after_an_outcome_that_may_have_made_a_job(
    dags: ModuleType, down: Emulator, fault: str
) -> None:
    down.inject(fault, upstream="mountsea", endpoint="submit")
    run = dags.failover.test(run_conf=conf("failover_first", "failover_made"))
    assert states(run)[("generate", -1)] == "failed"
    assert submits(down, "mountsea") == 1  # once: not retried, the job may exist
    assert submits(down, "xai") == 0  # and never sent elsewhere: that could pay twice
    assert jobs(down, "mountsea") <= 1


def test_the_one_task_wait_polls_the_connection_that_made_the_video(
    dags: ModuleType, down: Emulator
) -> None:
    down.set_outage("mountsea", "402")
    run = dags.failover_one_task.test(run_conf=conf("failover_first", "failover_made"))
    assert set(states(run).values()) == {"success"}, states(run)
    (video,) = returned(run, "generate")
    assert video["status"] == "succeeded" and down.job(video["generation_id"])["upstream"] == "xai"  # type: ignore[index]
    assert reads(down, "mountsea") == 0
    assert video["conn_id"] == "failover_made"  # named in the result, after the resume too
