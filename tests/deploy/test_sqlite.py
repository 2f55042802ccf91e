"""Where newcomers start: ``airflow standalone``'s database, SQLite, with the LocalExecutor and
Airflow's default ``parallelism`` (32), the api-server, scheduler, dag-processor and triggerer
as separate processes. A batch of ``GROKVIDEO_DEPLOY_SQLITE_VIDEOS`` videos (30), half waited
by the sensor and half by the generate task, no retries: every video succeeds, once, and the
scheduler survives (SQLite takes one writer at a time: every XCom and state store write of a
task queues behind the others, so a video must write little).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.airflow_deployment import Deployment, running_deployment
from deploy.conftest import reporter, say
from deploy.scenarios import (
    WAIT_TASK_PREFIXES,
    describe_calls,
    execution_api_calls,
    metadata_writes,
)

pytestmark = pytest.mark.deploy

DAG_ID = "grokvideo_deploy_batch"
VIDEOS = int(os.environ.get("GROKVIDEO_DEPLOY_SQLITE_VIDEOS", "30"))

#: What `airflow standalone` would leave at its defaults, back to them (the PostgreSQL
#: scenarios raise some for their batches of hundreds).
STANDALONE_DEFAULTS = {
    "AIRFLOW__CORE__PARALLELISM": "32",
    "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "16",
}


@pytest.fixture(scope="module")
def sqlite_deployment(
    request: pytest.FixtureRequest, installed_provider: Path, deploy_root: Path
) -> Iterator[Deployment]:
    database = deploy_root / "sqlite" / "airflow.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    with running_deployment(
        reporter(request),
        installed_provider,
        deploy_root,
        None,
        database_url=f"sqlite:///{database}",
        settings=STANDALONE_DEFAULTS,
    ) as deployment:
        deployment.wait_for_dags(DAG_ID)
        yield deployment


def test_a_small_batch_on_sqlite(
    sqlite_deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    deployment = sqlite_deployment
    run_id = deployment.trigger(DAG_ID, {"videos": VIDEOS, "min_seconds": 10, "max_seconds": 30})
    state = deployment.wait_for_run(DAG_ID, run_id, 900)
    tis = deployment.task_instances(DAG_ID, run_id)
    waits = [ti for ti in tis if ti["task_id"].startswith(WAIT_TASK_PREFIXES)]
    stats = deployment.emulator_stats(deployment.emulator_url)
    jobs = sum(upstream["submissions"] for upstream in stats["upstreams"].values())
    say(
        request,
        f"deploy: SQLite: videos {VIDEOS}, run {state}, waits succeeded "
        f"{sum(ti['state'] == 'success' for ti in waits)} of {len(waits)}, upstream jobs {jobs}; "
        f"per video: {metadata_writes(deployment, DAG_ID, run_id, VIDEOS)}; "
        f"{describe_calls(execution_api_calls(deployment), VIDEOS)}",
    )
    assert deployment.services["scheduler"].alive(), "the scheduler died"
    assert state == "success", [(ti["task_id"], ti["map_index"], ti["state"]) for ti in tis]
    assert jobs == VIDEOS
