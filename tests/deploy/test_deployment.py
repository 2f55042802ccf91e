"""The provider in a real deployment: its wheel installed in a clean virtual environment,
Airflow's api-server, scheduler, dag-processor and triggerer as separate processes on
PostgreSQL 15 with the LocalExecutor, the emulator in its own process, every run triggered
and watched through the REST API.

* A worker SIGKILLed while its generate task's submit is in flight (the upstream has created
  the job, the answer is late): the retry after the heartbeat timeout submits nothing and
  fails, saying when the unknown submit was sent.
* Submits SIGKILLed while they wait for the key's request budget (shared in Redis, the key
  limited to a low rate in an emulator of its own; the test holds the budget until every
  submit waits): no marker was written, so each retry submits, one job per video.
* A batch of ``GROKVIDEO_DEPLOY_VIDEOS`` videos (300) over the three upstreams, half waited by
  the sensor and half by the generate task itself, no retries on any wait; the emulator holds
  every job until at least half the waits are deferred (so on any machine), then the only
  triggerer is SIGKILLed, a replacement started and the jobs released: every video succeeds,
  with exactly one upstream job each.
* A failover batch (``FAILOVER_VIDEOS``, 40) asked of xAI first, with APIMart (keys honored)
  and Mountsea as fallbacks: part-way xAI goes down (its port refuses connections) and APIMart
  loses the answers of some submits after creating their jobs; every video is made once, on
  the remaining upstreams, no task retried, no human step.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import time
from typing import Any

import psutil
import pytest

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY
from airflow_provider_grokvideo.emulator.server import airflow_connection
from deploy.airflow_deployment import HEARTBEAT_TIMEOUT, Deployment, wait_for
from deploy.conftest import say
from deploy.processes import gone
from deploy.redis_server import RedisServer
from deploy.scenarios import (
    ENDS_IN_TRIGGERER,
    HeldBudget,
    check_endings,
    describe_calls,
    describe_starts,
    execution_api_calls,
    metadata_writes,
    run_endings,
    task_starts,
    wait_deferred,
)

pytestmark = pytest.mark.deploy

BATCH_DAG = "grokvideo_deploy_batch"
KILLED_SUBMIT_DAG = "grokvideo_deploy_killed_submit"
FAILOVER_DAG = "grokvideo_deploy_failover"
BUDGET_KILL_DAG = "grokvideo_deploy_budget_kill"
#: Its connection (made by the test), its videos (the DAG's VIDEOS) and the key's rate: xAI's
#: published 1 request per second, in the emulator and on the connection.
BUDGET_CONN_ID, BUDGET_VIDEOS, BUDGET_RATE = "grokvideo_budget_kill", 8, 1.0
#: The failover batch: this many videos, the first FAILOVER_BEFORE made while xAI is up.
FAILOVER_VIDEOS, FAILOVER_BEFORE = 40, 10
#: APIMart loses the answers of this many submits (after creating their jobs).
LOST_ANSWERS = 3
#: The batch's size: 300 in CI; smaller while developing.
VIDEOS = int(os.environ.get("GROKVIDEO_DEPLOY_VIDEOS", "300"))
#: The emulated jobs' length once released, spread over this range (seconds). The emulator
#: holds every job until the kill, so the kill never depends on how fast this machine
#: submits; after the release the jobs outlive the replacement's take-over.
JOB_SECONDS = tuple(
    int(x) for x in os.environ.get("GROKVIDEO_DEPLOY_JOB_SECONDS", "20-60").split("-")
)
#: How late the killed submit's answer comes: long past the kill and the retry.
LATE_ANSWER_SECONDS = 300
WAIT_TASK_PREFIXES = ("wait_", "generate_and_wait_")


@pytest.fixture(scope="module")
def dags(deployment: Deployment) -> Deployment:
    deployment.wait_for_dags(BATCH_DAG, KILLED_SUBMIT_DAG, FAILOVER_DAG, BUDGET_KILL_DAG)
    return deployment


def test_a_submit_killed_in_flight_is_not_sent_again(
    dags: Deployment, request: pytest.FixtureRequest
) -> None:
    deployment, url = dags, dags.killed_submit_emulator_url
    deployment.inject(
        url, fault="late-answer", upstream="xai", endpoint="submit", delay=LATE_ANSWER_SECONDS
    )
    started = time.monotonic()
    run_id = deployment.trigger(KILLED_SUBMIT_DAG)

    # In flight: the upstream has created (and would bill) the job, the answer has not come.
    wait_for(lambda: _submissions(deployment, url) == 1, 180, "the submit to reach the upstream")
    ti = _task_instance(deployment, run_id, "generate")
    assert (ti["state"], ti["try_number"]) == ("running", 1), ti
    victims = _task_processes(int(ti["pid"]))
    for pid in victims:  # the supervisor first, so that it cannot report the task's end
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(map(gone, victims)), 30, "the task's processes to die")
    killed = ", ".join(f"{pid} ({title})" for pid, title in victims.items())
    say(request, f"deploy: SIGKILLed the generate task's processes {killed} mid-submit")

    state = deployment.wait_for_run(KILLED_SUBMIT_DAG, run_id, HEARTBEAT_TIMEOUT + 240)
    ti = _task_instance(deployment, run_id, "generate")
    stats = deployment.emulator_stats(url)
    log = deployment.task_log(KILLED_SUBMIT_DAG, run_id, "generate", ti["try_number"])
    say(
        request,
        f"deploy: killed submit: run {state} after {time.monotonic() - started:.0f} s, "
        f"task {ti['state']} on try {ti['try_number']}, "
        f"upstream jobs {stats['upstreams']['xai']['submissions']} (must be 1)",
    )
    assert stats["upstreams"]["xai"]["submissions"] == 1, "the retry submitted a second job"
    assert stats["jobs_total"] == 1
    assert ti["try_number"] == 2, "the killed try was not retried after its heartbeat timeout"
    assert (state, ti["state"]) == ("failed", "failed")
    # The durable-submit refusal: when the unknown submit was sent, and that it is not sent
    # again on its own.
    refusal = re.search(
        r"Not submitting: try 1 of this task sent a submit to xai .*? at "
        r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\S*)",
        log,
    )
    assert refusal, log[-3000:]
    say(request, f"deploy: the retry refused: the unknown submit was sent at {refusal.group(1)}")


def test_submits_killed_while_waiting_for_the_budget_are_sent_by_their_retries(
    dags: Deployment, redis_server: RedisServer, request: pytest.FixtureRequest
) -> None:
    deployment = dags
    url = deployment.start_emulator("emulator-budget", 60, {"xai": BUDGET_RATE})
    connection = json.loads(airflow_connection(url, "xai", DEFAULT_API_KEY))
    deployment.create_connection(
        "grokvideo_budget_redis", "redis", host="127.0.0.1", port=redis_server.port, extra={"db": 2}
    )
    deployment.create_connection(
        BUDGET_CONN_ID,
        connection["conn_type"],
        host=connection["host"],
        password=connection["password"],
        extra={"requests_per_second": BUDGET_RATE, "redis_conn_id": "grokvideo_budget_redis"},
    )
    budget = HeldBudget(redis_server, 2, connection["host"], DEFAULT_API_KEY, BUDGET_RATE)
    budget.hold()  # every submit is handed a turn an hour away: it waits for it
    started = time.monotonic()
    run_id = deployment.trigger(BUDGET_KILL_DAG)

    wait_for(
        lambda: budget.waiting() >= BUDGET_VIDEOS,
        300,
        "every submit to wait for the key's budget",
        deployment,
    )
    where = f"dag_id = '{BUDGET_KILL_DAG}' AND run_id = '{run_id}'"
    markers = int(deployment.sql(f"SELECT count(*) FROM task_state_store WHERE {where}")[0][0])
    running = [ti for ti in deployment.task_instances(BUDGET_KILL_DAG, run_id, "running")]
    victims: dict[int, str] = {}
    for ti in running:
        victims.update(_task_processes(int(ti["pid"])))
    for pid in victims:  # each supervisor before its task, so that it cannot report the end
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(map(gone, victims)), 30, "the tasks' processes to die")
    waited = budget.waiting()
    budget.free()  # the key's next turns go at once, at its rate
    sent_before = deployment.emulator_stats(url)["upstreams"]["xai"]["requests"]
    say(
        request,
        f"deploy: SIGKILLed {len(running)} generate tasks ({len(victims)} processes) while "
        f"{waited} submits waited for the budget; submit records then {markers}, "
        f"requests sent {sent_before}",
    )

    state = deployment.wait_for_run(BUDGET_KILL_DAG, run_id, HEARTBEAT_TIMEOUT + 300)
    tis = deployment.task_instances(BUDGET_KILL_DAG, run_id)
    stats = deployment.emulator_stats(url)
    xai = stats["upstreams"]["xai"]
    refused = [ti["map_index"] for ti in tis if ti["state"] != "success"]
    say(
        request,
        f"deploy: budget kill figures: videos {BUDGET_VIDEOS}, run {state} in "
        f"{time.monotonic() - started:.0f} s, tries {sorted(ti['try_number'] for ti in tis)}, "
        f"tasks not successful {refused}, upstream jobs {xai['submissions']} "
        f"(must be {BUDGET_VIDEOS}), 429s {xai['rate_limited_submit']} of {xai['requests']}",
    )
    assert len(running) == BUDGET_VIDEOS, running
    assert (markers, sent_before) == (0, 0), "a submit waiting for the budget left a marker"
    assert (state, refused) == ("success", [])
    assert all(ti["try_number"] == 2 for ti in tis), "a killed try was not retried"
    assert xai["submissions"] == stats["jobs_total"] == BUDGET_VIDEOS, "not one job per video"


def test_a_batch_survives_its_triggerer_killed(
    dags: Deployment, request: pytest.FixtureRequest
) -> None:
    deployment, url = dags, dags.emulator_url
    low, high = JOB_SECONDS
    started = time.monotonic()
    # No job ends until the release: every wait defers, however fast this machine is.
    deployment.hold_jobs(url)
    run_id = deployment.trigger(
        BATCH_DAG, {"videos": VIDEOS, "min_seconds": low, "max_seconds": high}
    )

    # Kill the only triggerer once at least half the waits are deferred.
    half = math.ceil(VIDEOS / 2)
    wait_deferred(deployment, BATCH_DAG, run_id, half, 900)
    deferred_at_kill = deployment.count(BATCH_DAG, run_id, "deferred")
    killed_at = time.monotonic() - started
    pids = deployment.replace_triggerer()
    released = deployment.release_jobs(url)
    say(
        request,
        f"deploy: SIGKILLed the triggerer ({len(pids)} processes) at {killed_at:.0f} s with "
        f"{deferred_at_kill} waits deferred; a replacement started; {released} jobs released",
    )

    state = deployment.wait_for_run(BATCH_DAG, run_id, 900)
    run_seconds = time.monotonic() - started
    tis = deployment.task_instances(BATCH_DAG, run_id)
    waits = [ti for ti in tis if ti["task_id"].startswith(WAIT_TASK_PREFIXES)]
    failed_waits = [ti for ti in waits if ti["state"] != "success"]
    stats = deployment.emulator_stats(url)
    jobs = sum(upstream["submissions"] for upstream in stats["upstreams"].values())
    report: dict[str, Any] = (
        deployment.xcom(BATCH_DAG, run_id, "report") if state == "success" else {}
    )
    say(
        request,
        "deploy: figures: "
        f"videos {VIDEOS}, run {state} in {run_seconds:.0f} s, "
        f"waits deferred at the triggerer kill {deferred_at_kill} of {len(waits)} "
        f"(killed at {killed_at:.0f} s), failed waits {len(failed_waits)}, "
        f"upstream jobs {jobs} ({jobs / VIDEOS:.2f} per video; "
        + ", ".join(f"{name} {s['submissions']}" for name, s in stats["upstreams"].items())
        + ")",
    )
    writes = metadata_writes(deployment, BATCH_DAG, run_id, VIDEOS)
    wait_starts = task_starts(deployment, waits)
    say(
        request,
        f"deploy: per video: {writes}; {describe_calls(execution_api_calls(deployment), VIDEOS)}"
        f"; {describe_starts(task_starts(deployment, tis), VIDEOS)}; waits: "
        f"{describe_starts(wait_starts, VIDEOS)}",
    )
    assert not failed_waits, [(ti["task_id"], ti["map_index"], ti["state"]) for ti in failed_waits]
    assert state == "success"
    assert len(waits) == VIDEOS
    assert deferred_at_kill >= half
    if ENDS_IN_TRIGGERER:  # one start per wait: its trigger ended it, no worker resumed it
        assert wait_starts == {1: VIDEOS}, wait_starts
    assert jobs == VIDEOS and stats["jobs_total"] == VIDEOS, "not exactly one job per video"
    assert report["videos"] == report["generation_ids"] == report["succeeded"] == VIDEOS


def test_a_batch_fails_over_when_an_upstream_goes_down(
    dags: Deployment, request: pytest.FixtureRequest
) -> None:
    deployment, url = dags, dags.failover_emulator_url
    started = time.monotonic()
    deployment.hold_jobs(url)  # no video ends before the outage: the waits meet it too
    run_id = deployment.trigger(
        FAILOVER_DAG, {"videos": FAILOVER_VIDEOS, "before": FAILOVER_BEFORE}
    )

    def made(upstream: str | None = None) -> int:
        counts = deployment.emulator_stats(url)["upstreams"]
        return sum(c["submissions"] for name, c in counts.items() if upstream in (None, name))

    # The first videos are made on xAI while it is up; then it goes down part-way, and
    # APIMart, which the rest fail over to, loses the answers of its first submits.
    wait_for(lambda: made("xai") == FAILOVER_BEFORE, 600, "the first videos on xAI", deployment)
    deployment.set_outages(url, {"xai": "refuse"})
    deployment.inject(
        url, fault="lost-answer", upstream="xcompute", endpoint="submit", count=LOST_ANSWERS
    )
    down_at = time.monotonic() - started
    response = deployment.api.post(
        "/variables", json={"key": "grokvideo_failover_gate", "value": "open"}
    )
    assert response.status_code in (200, 201), response.text
    say(request, f"deploy: failover: xAI down (refusing connections) at {down_at:.0f} s")

    wait_for(lambda: made() >= FAILOVER_VIDEOS, 900, "every video to be submitted", deployment)
    deployment.set_outages(url, {"xai": None})  # its own videos' waits can read them again
    released = deployment.release_jobs(url)
    state = deployment.wait_for_run(FAILOVER_DAG, run_id, 900)
    run_seconds = time.monotonic() - started
    tis = deployment.task_instances(FAILOVER_DAG, run_id)
    generates = [ti for ti in tis if ti["task_id"].startswith("generate")]
    not_success = [
        (ti["task_id"], ti["map_index"], ti["state"]) for ti in tis if ti["state"] != "success"
    ]
    retried = [(ti["task_id"], ti["map_index"]) for ti in generates if ti["try_number"] != 1]
    stats = deployment.emulator_stats(url)
    per = {name: s["submissions"] for name, s in stats["upstreams"].items()}
    replays = stats["upstreams"]["xcompute"]["idempotent_replays"]
    say(
        request,
        f"deploy: failover figures: videos {FAILOVER_VIDEOS}, run {state} in {run_seconds:.0f} s, "
        f"jobs {sum(per.values())} (xai {per['xai']} before the outage, xcompute/APIMart "
        f"{per['xcompute']}, mountsea {per['mountsea']}), lost answers {LOST_ANSWERS} replayed "
        f"with their key {replays}, {released} jobs released, generate tasks retried "
        f"{len(retried)}, tasks not successful {len(not_success)}",
    )
    assert state == "success" and not not_success, not_success
    assert len(generates) == FAILOVER_VIDEOS and not retried, retried  # no retry, no human
    assert per["xai"] == FAILOVER_BEFORE  # nothing reached xAI while it was down
    assert sum(per.values()) == stats["jobs_total"] == FAILOVER_VIDEOS, per  # each video once
    assert replays == LOST_ANSWERS  # every lost answer was answered by its original job


def _submissions(deployment: Deployment, url: str) -> int:
    return int(deployment.emulator_stats(url)["upstreams"]["xai"]["submissions"])


def _task_instance(deployment: Deployment, run_id: str, task_id: str) -> dict[str, Any]:
    response = deployment.api.get(
        f"/dags/{KILLED_SUBMIT_DAG}/dagRuns/{run_id}/taskInstances/{task_id}"
    )
    response.raise_for_status()
    return dict(response.json())


def _task_processes(pid: int) -> dict[int, str]:
    """The LocalExecutor worker supervising the task and the task's own process (what dies
    with a lost node or an OOM-killed pod), supervisor first: pid -> process title."""
    task = psutil.Process(pid)
    supervisor = task.parent()
    titles = {proc.pid: " ".join(proc.cmdline())[:80] for proc in (supervisor, task) if proc}
    assert supervisor is not None and "LocalExecutor" in titles[supervisor.pid], titles
    return titles


@pytest.mark.skipif(not ENDS_IN_TRIGGERER, reason="this Airflow resumes every wait on a worker")
def test_each_ending_of_a_wait_in_the_triggerer_local(
    dags: Deployment, request: pytest.FixtureRequest
) -> None:
    """Under the LocalExecutor: success, failure, up for retry (whose retry reads the same job),
    and a soft-fail skip, each ended by the trigger with a worker's XComs and callbacks
    (``deploy.scenarios.check_endings``)."""
    check_endings(run_endings(dags, lambda text: say(request, text)))
