"""The provider in a distributed deployment, as teams run it past one process: the
CeleryExecutor on Redis and PostgreSQL, two Celery workers and two triggerers side by side, the
api-server, scheduler and dag-processor as separate processes, ``parallelism`` 32.

A mapped batch of ``GROKVIDEO_DEPLOY_DISTRIBUTED_VIDEOS`` videos (400) over the three upstreams,
xAI limited in the emulator to ``GROKVIDEO_DEPLOY_RATE`` requests per second per key and its
connection configured with the same ``requests_per_second`` (and the deployment's Redis as its
shared budget when the provider has one); generate tasks through a pool per upstream with
``retries``, sensors and one-task waits without. The emulator holds every job until the kills:
one triggerer SIGKILLed once half the waits are deferred (not replaced: its peer takes its
triggers over), one Celery worker once all are (restarted after a few seconds). Every video
succeeds with exactly one upstream job, and at most 1 % of the limited key's requests are
refused with 429.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.airflow_deployment import Deployment
from deploy.conftest import reporter, say
from deploy.postgres import PostgresServer
from deploy.redis_server import RedisServer
from deploy.scenarios import (
    ENDS_IN_TRIGGERER,
    LIMITED_UPSTREAM,
    check_endings,
    distributed_deployment,
    run_distributed,
    run_endings,
)

pytestmark = pytest.mark.deploy

VIDEOS = int(os.environ.get("GROKVIDEO_DEPLOY_DISTRIBUTED_VIDEOS", "400"))
#: The limited key's requests per second (emulator and connection alike).
RATE = float(os.environ.get("GROKVIDEO_DEPLOY_RATE", "8"))
#: The jobs' length once released (seconds).
JOB_SECONDS = tuple(
    int(x) for x in os.environ.get("GROKVIDEO_DEPLOY_DISTRIBUTED_JOB_SECONDS", "20-60").split("-")
)


@pytest.fixture(scope="module")
def celery_deployment(
    request: pytest.FixtureRequest,
    installed_provider: Path,
    postgres: PostgresServer,
    redis_server: RedisServer,
    deploy_root: Path,
) -> Iterator[Deployment]:
    with distributed_deployment(
        reporter(request), installed_provider, deploy_root, postgres, redis_server, RATE
    ) as deployment:
        yield deployment


def test_a_batch_survives_a_triggerer_and_a_worker_killed_under_celery(
    celery_deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    run = run_distributed(celery_deployment, VIDEOS, JOB_SECONDS, lambda text: say(request, text))
    say(request, f"deploy: distributed figures: {run.figures()}")
    say(request, f"deploy: distributed per video: {run.writes}; {run.calls}; {run.starts}")
    assert not run.failed_waits, run.failed_waits
    assert run.state == "success", run.not_succeeded
    assert run.jobs == VIDEOS and run.jobs_total == VIDEOS, "not exactly one job per video"
    assert run.report == {"videos": VIDEOS, "generation_ids": VIDEOS, "succeeded": VIDEOS}
    assert run.deferred_at_triggerer_kill >= VIDEOS // 2
    assert run.deferred_at_worker_kill == VIDEOS
    if ENDS_IN_TRIGGERER:  # one start per wait: its trigger ended it, no worker resumed it
        assert run.wait_starts == {1: VIDEOS}, run.wait_starts
    assert run.share_429 <= 0.01, (
        f"{run.limited_429} of {run.limited_requests} requests to {LIMITED_UPSTREAM} refused "
        "with 429"
    )


#: The spend scenario: this many $0.25 submits against a budget of BUDGET_USD (a fifth of them).
SPEND_VIDEOS = int(os.environ.get("GROKVIDEO_DEPLOY_SPEND_VIDEOS", "40"))
BUDGET_USD = SPEND_VIDEOS * 0.25 / 5


def test_two_workers_never_spend_past_the_connections_budget(
    celery_deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    """A mapped batch larger than its connection's daily budget, run by both Celery workers at
    once: the ledger in Redis never passes the budget, exactly the videos that fit are made, and
    every refused one says why in its task's log."""
    import json

    from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY

    deployment = celery_deployment
    dag_id, conn_id = "grokvideo_deploy_spend_budget", "grokvideo_spend_xai"
    deployment.create_connection(
        conn_id,
        "grokvideo_xai",
        host=deployment.emulator_url.rstrip("/") + "/xai",
        password=DEFAULT_API_KEY,
        extra={"budget_usd_per_day": str(BUDGET_USD), "redis_conn_id": "grokvideo_redis"},
    )
    deployment.wait_for_dags(dag_id)
    stats = deployment.emulator_stats(deployment.emulator_url)
    before = int(stats["upstreams"]["xai"]["submissions"])
    run_id = deployment.trigger(dag_id, {"videos": SPEND_VIDEOS})
    deployment.wait_for_run(dag_id, run_id, 900)
    tis = [t for t in deployment.task_instances(dag_id, run_id) if t["task_id"] == "generate"]
    made = [t for t in tis if t["state"] == "success"]
    refused = [t for t in tis if t["state"] == "failed"]
    stats = deployment.emulator_stats(deployment.emulator_url)
    jobs = int(stats["upstreams"]["xai"]["submissions"]) - before
    fits = int(BUDGET_USD / 0.25)
    hosts = {t.get("hostname") for t in made + refused}
    say(
        request,
        f"deploy: spend budget ${BUDGET_USD:.2f}/day: {len(made)} videos made, {len(refused)} "
        f"refused unsent, {jobs} upstream jobs, spent ${len(made) * 0.25:.2f}; "
        f"workers {sorted(h for h in hosts if h)}",
    )
    assert len(made) == fits == jobs, (len(made), fits, jobs)
    assert len(refused) == SPEND_VIDEOS - fits
    for ti in refused:
        log = deployment.task_log_of(dag_id, run_id, "generate", 1, ti["map_index"])
        assert f"budget_usd_per_day of ${BUDGET_USD:.2f}" in log and "nothing was sent" in log
    import redis as redis_py

    from airflow_provider_grokvideo.budget.stores import ledger_name

    port = json.loads(deployment.env["AIRFLOW_CONN_GROKVIDEO_REDIS"])["port"]
    fields = redis_py.Redis(port=port, db=1, decode_responses=True).hgetall(ledger_name(conn_id))
    spent = sum(int(v) for k, v in fields.items() if k.startswith("spent:day:"))
    reserved = [k for k in fields if k.startswith("r:")]
    assert spent == fits * 2_500_000_000 and not reserved, fields


@pytest.mark.skipif(not ENDS_IN_TRIGGERER, reason="this Airflow resumes every wait on a worker")
def test_each_ending_of_a_wait_in_the_triggerer_celery(
    celery_deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    """Under the CeleryExecutor, one triggerer left: success, failure, up for retry (whose
    retry reads the same job), and a soft-fail skip, each ended by the trigger with a worker's
    XComs and callbacks (``deploy.scenarios.check_endings``)."""
    check_endings(run_endings(celery_deployment, lambda text: say(request, text)))
