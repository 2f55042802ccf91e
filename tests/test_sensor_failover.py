"""The wait polls the connection that made the video: ``dag.test()`` runs against the emulator.

After a failover the generate task's ``grokvideo`` record names the connection that made the
video, not the task's first one.  The DAGs (``tests/dags/grokvideo_failover_waits.py``) give
every sensor ``failover_first`` (Mountsea) and make every video through ``failover_made``
(xAI): Mountsea answers 404 for an xAI id, so a wait that succeeds polled where the video was
made, and the emulator's counters say which upstream was read.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_provider_grokvideo.emulator import Emulator

DAGS = Path(__file__).resolve().parent / "dags"

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    """The test DAG file, imported, and registered as a DAG bundle beside the DAGs folder."""
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": "grokvideo-failover-wait-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS)},
        },
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        patch.setattr(sys, "path", list(sys.path))  # the bundle's parse appends its folder
        name = "grokvideo_failover_waits"
        spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        patch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
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
