"""What the deployment scenarios share: waiting for deferred waits, the counts of what a run
wrote to the metadata database and asked of the Execution API, and the distributed batch
(``tests/deploy/test_distributed.py`` asserts on it, ``benchmarks/deployment.py`` prints it
at 1,000 videos).

A scenario makes the condition it needs happen (the emulator holds every job until the kill)
and asserts what the product must do; the figures are printed, never asserted on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from page_support import cards
from xcom_support import comparable

from airflow_provider_grokvideo import compat
from deploy.airflow_deployment import Deployment, celery_settings, running_deployment, wait_for
from deploy.postgres import PostgresServer
from deploy.processes import CpuMeter
from deploy.redis_server import RedisServer

WAIT_TASK_PREFIXES = ("wait_", "generate_and_wait_")
#: Whether the waits end in the triggerer: the deployment installs the same Airflow as this
#: environment (the newest the provider's wheel resolves to, from the same pip cache).
ENDS_IN_TRIGGERER: bool = compat.TRIGGER_CAN_END_TASKS
#: The API server's access log line (Airflow's ``HttpAccessLogMiddleware``: structlog's
#: ``key=value`` pairs, in any order).
_ACCESS = re.compile(r"^(?P<at>\S+).*request finished.*$", re.MULTILINE)
#: SQLAlchemy's words when a request waited its whole ``pool_timeout`` for a connection.
_POOL_EXHAUSTED = "QueuePool limit of size"
_PAIR = re.compile(r"(\w+)=(\S*)")
_ID = re.compile(r"^[0-9a-f-]{36}$|^\d+$")


def wait_deferred(
    deployment: Deployment, dag_id: str, run_id: str, target: int, timeout: float
) -> int:
    """Wait until ``target`` task instances of the run are deferred; the count then. The
    emulator must hold the jobs (else a fast wait may end before the count is reached)."""
    peak = 0

    def reached() -> bool:
        nonlocal peak
        if deployment.run_state(dag_id, run_id) in ("success", "failed"):
            raise AssertionError(f"the run ended before {target} waits were deferred ({peak})")
        peak = max(peak, deployment.count(dag_id, run_id, "deferred"))
        return peak >= target

    wait_for(reached, timeout, f"{target} waits of {run_id} to be deferred", deployment, 1)
    return peak


def metadata_writes(deployment: Deployment, dag_id: str, run_id: str, videos: int) -> str:
    """XCom rows and task state store rows of the run per video, by key (what a video leaves
    in the metadata database)."""
    where = f"dag_id = '{dag_id}' AND run_id = '{run_id}'"
    xcoms = {
        key: int(n)
        for key, n in deployment.sql(
            f"SELECT key, count(*) FROM xcom WHERE {where} GROUP BY key ORDER BY key"
        )
    }
    states = {
        key: int(n)
        for key, n in deployment.sql(
            f"SELECT key, count(*) FROM task_state_store WHERE {where} GROUP BY key ORDER BY key"
        )
    }
    per = lambda n: f"{n / videos:.2f}"  # noqa: E731
    return (
        f"XCom rows {per(sum(xcoms.values()))} ("
        + ", ".join(f"{key} {per(n)}" for key, n in xcoms.items())
        + f"), state store rows {per(sum(states.values()))} ("
        + ", ".join(f"{key} {per(n)}" for key, n in states.items())
        + ")"
    )


@dataclass
class ExecutionApiCalls:
    """The Execution API calls in the API server's log: by kind (``POST xcoms``, ``PATCH
    task-instances/state``...), their durations (µs), their spans (start and end, epoch
    seconds, where the line has a timestamp) and the requests that waited for a database
    connection until SQLAlchemy gave up."""

    kinds: Counter[str] = field(default_factory=Counter)
    durations: list[int] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)
    pool_exhausted: int = 0

    def most_at_once(self) -> int:
        """The most calls in progress together: what the API server's pool had to serve."""
        edges = sorted([(a, 1) for a, _ in self.spans] + [(b, -1) for _, b in self.spans])
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most


def _api_server_logs(deployment: Deployment) -> Iterator[str]:
    for service in deployment.all_services():
        if service.name.startswith("api-server"):
            yield service.log_file.read_text(errors="replace")


def _execution_api_lines(deployment: Deployment) -> Iterator[tuple[str, dict[str, str]]]:
    """The leading timestamp and the ``key=value`` pairs of every Execution API access line of
    the API servers' logs."""
    for text in _api_server_logs(deployment):
        for match in _ACCESS.finditer(text):
            pairs = dict(_PAIR.findall(match.group(0)))
            if pairs.get("path", "").startswith("/execution/"):
                yield match.group("at"), pairs


def execution_api_calls(deployment: Deployment, since: float | None = None) -> ExecutionApiCalls:
    """Every Execution API call in the API server's log (:class:`ExecutionApiCalls`), or those
    that ended after ``since`` (epoch seconds: one run of several in a deployment)."""
    from datetime import datetime

    calls = ExecutionApiCalls()
    calls.pool_exhausted = sum(text.count(_POOL_EXHAUSTED) for text in _api_server_logs(deployment))
    for at, pairs in _execution_api_lines(deployment):
        if since is not None:
            try:
                end = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue  # no timestamp: cannot tell which run it belongs to
            if end < since:
                continue
        parts = [p for p in pairs["path"].split("/")[2:] if p and not _ID.match(p)]
        kind = parts[0] if parts else "?"
        if kind == "task-instances" and len(parts) > 1:
            kind = f"task-instances/{parts[-1]}"
        calls.kinds[f"{pairs.get('method', '?')} {kind}"] += 1
        calls.durations.append(int(pairs.get("duration_us") or 0))
        with contextlib.suppress(ValueError):  # a line without a leading timestamp
            end = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
            calls.spans.append((end - calls.durations[-1] / 1e6, end))
    return calls


def worker_starts(deployment: Deployment, tis: list[dict[str, Any]]) -> dict[str, int]:
    """How many times a worker started each task instance of ``tis`` (by its id): the
    Execution API's ``PATCH task-instances/<id>/run``, sent by a try's start and by every resume
    after a deferral.  A wait that its trigger ended was started once per try."""
    ids = {str(ti["id"]) for ti in tis}
    starts: Counter[str] = Counter(dict.fromkeys(ids, 0))
    for _, pairs in _execution_api_lines(deployment):
        parts = pairs["path"].strip("/").split("/")
        if len(parts) == 4 and parts[1:4:2] == ["task-instances", "run"] and parts[2] in ids:
            starts[parts[2]] += 1
    return dict(starts)


def task_starts(deployment: Deployment, tis: list[dict[str, Any]]) -> Counter[int]:
    """How many task instances of ``tis`` a worker started how many times
    (:func:`worker_starts`)."""
    return Counter(worker_starts(deployment, tis).values())


def describe_starts(starts: Counter[int], videos: int) -> str:
    total = sum(times * n for times, n in starts.items())
    spread = ", ".join(f"{n} started {times}x" for times, n in sorted(starts.items()))
    return f"task starts per video {total / videos:.2f} ({spread})"


def describe_calls(calls: ExecutionApiCalls, videos: int) -> str:
    kinds, durations = calls.kinds, calls.durations
    if not durations:
        return "no Execution API access lines in the API server's log"
    top = ", ".join(f"{kind} {n / videos:.2f}" for kind, n in kinds.most_common(8))
    return (
        f"Execution API calls per video {sum(kinds.values()) / videos:.1f} ({top}); "
        f"p95 call {percentile(durations, 95) / 1000:.0f} ms, worst {max(durations) / 1000:.0f} ms"
        f"; at most {calls.most_at_once()} calls at once; "
        f"{calls.pool_exhausted} waited out the API server's database pool"
    )


def percentile(values: list[float] | list[int], q: float) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


class HeldBudget:
    """A key's request budget shared in Redis (``hooks/shared_budget.py``), held by the test:
    the key is paused there for an hour, so every submit that asks for a turn is handed one an
    hour away and waits for it; the test counts those turns, then frees the budget."""

    PAUSE_SECONDS = 3600.0

    def __init__(self, redis: RedisServer, db: int, base_url: str, api_key: str, rate: float):
        import redis as redis_py

        from airflow_provider_grokvideo.hooks.pacer import SPACING_MARGIN
        from airflow_provider_grokvideo.hooks.shared_budget import budget_name

        self.client = redis_py.Redis(host="127.0.0.1", port=redis.port, db=db)
        key_hash = hashlib.sha256(api_key.encode()).hexdigest()
        self.name = budget_name((base_url.rstrip("/"), key_hash))  # as the hook names it
        self.spacing = (1 + SPACING_MARGIN) / rate

    def hold(self) -> None:
        seconds, micros = self.client.time()
        self.client.hset(self.name, "paused", f"{seconds + micros / 1e6 + self.PAUSE_SECONDS:.6f}")

    def waiting(self) -> int:
        """Turns handed out since :meth:`hold`: submits waiting for the budget (or dead)."""
        tat, paused = self.client.hmget(self.name, "tat", "paused")
        if not tat or not paused or float(tat) < float(paused):
            return 0
        return round((float(tat) - float(paused)) / self.spacing)

    def free(self) -> None:
        """Forget the budget (its pause and the turns handed out): the next asks go at once."""
        self.client.delete(self.name)


# -- the distributed batch ----------------------------------------------------------------
DISTRIBUTED_DAG = "grokvideo_deploy_distributed"
#: The same batch with ``end_from_trigger=False``: every finished wait resumes on a worker.
ON_WORKER_DAG = "grokvideo_deploy_distributed_on_worker"
#: The upstream limited in the emulator and paced on its connection (xAI publishes 1 request
#: per second per video model; the test uses more, to finish in CI's time).
LIMITED_UPSTREAM = "xai"
#: Slots of each upstream's submit pool (docs/guide.md: a pool per connection).
POOL_SLOTS = 8


def configure_limited_key(deployment: Deployment, redis: RedisServer, rate: float) -> None:
    """The limited upstream's connection: the same rate as the emulator's limit, and the
    deployment's Redis (an Airflow ``redis`` connection, database 1; the broker uses 0) as the
    key's shared budget (``redis_conn_id``)."""
    deployment.env["AIRFLOW_CONN_GROKVIDEO_REDIS"] = json.dumps(
        {"conn_type": "redis", "host": "127.0.0.1", "port": redis.port, "extra": {"db": 1}}
    )
    deployment.set_connection_extra(
        LIMITED_UPSTREAM, requests_per_second=rate, redis_conn_id="grokvideo_redis"
    )


@contextlib.contextmanager
def distributed_deployment(
    report: Callable[[str], None],
    venv: Path,
    root: Path,
    postgres: PostgresServer,
    redis: RedisServer,
    rate: float,
    parallelism: int = 32,
) -> Iterator[Deployment]:
    """The CeleryExecutor on ``redis`` and ``postgres``: two workers, two triggerers, the
    api-server, scheduler and dag-processor apart; xAI limited to ``rate`` requests per second
    in the emulator and on its connection."""
    # Celery's results in a database of their own (a SQLAlchemy URL behind Celery's "db+").
    name = f"celery_results_{int(time.time() * 1000)}"
    backend = "db+" + postgres.create_database(name)
    with running_deployment(
        report,
        venv,
        root,
        postgres,
        settings=celery_settings(redis.url(0), backend, workers=2, parallelism=parallelism),
        rate_limits={LIMITED_UPSTREAM: rate},
        configure=lambda d: configure_limited_key(d, redis, rate),
        triggerers=2,
        celery_workers=2,
    ) as deployment:
        deployment.wait_for_dags(DISTRIBUTED_DAG)
        yield deployment


@dataclass
class DistributedRun:
    """What a distributed batch did (every figure the scenario prints)."""

    videos: int
    state: str = ""
    seconds: float = 0.0
    deferred_at_triggerer_kill: int = 0
    deferred_at_worker_kill: int = 0
    triggers_before_kill: dict[str, int] = field(default_factory=dict)
    takeover_seconds: float = math.nan
    worker_down_seconds: float = 0.0
    failed_waits: list[tuple[str, int, str]] = field(default_factory=list)
    not_succeeded: list[tuple[str, int, str]] = field(default_factory=list)
    #: When the worker was killed: "deferred" (every wait deferred, no submit left) or
    #: "submitting" (submits still going out), and how many jobs the upstreams had then.
    worker_kill: str = "deferred"
    jobs_at_worker_kill: int = 0
    #: Each task that did not succeed: (task, map index, state, reason from its last try's log).
    failures: list[tuple[str, int, str, str]] = field(default_factory=list)
    #: Jobs made upstream whose id no task recorded (a submit killed after its POST left).
    jobs_without_task: int = 0
    jobs: int = 0
    jobs_total: int = 0
    jobs_by_upstream: dict[str, int] = field(default_factory=dict)
    limited_requests: int = 0
    limited_429: int = 0
    p95_end_to_success: float = math.nan
    worst_end_to_success: float = math.nan
    #: Where a job's end to its task's success goes (p50/p95 of noticing it, then Airflow's part).
    end_to_success: str = ""
    #: CPU seconds of every Airflow process from the trigger to the run's end (a floor).
    cpu_seconds: float = math.nan
    report: dict[str, Any] = field(default_factory=dict)
    writes: str = ""
    calls: str = ""
    #: How many waits a worker started how many times (1: ended by its trigger).
    wait_starts: Counter[int] = field(default_factory=Counter)
    starts: str = ""
    #: The DAG run and the triggerer SIGKILLed (restarted by a second run in the deployment).
    dag: str = DISTRIBUTED_DAG
    killed_triggerer: str = ""
    #: The triggers each live triggerer held once the killed one's were taken over.
    triggers_at_release: dict[str, int] = field(default_factory=dict)

    @property
    def share_429(self) -> float:
        return self.limited_429 / self.limited_requests if self.limited_requests else 0.0

    def figures(self) -> str:
        return (
            f"videos {self.videos}, run {self.state} in {self.seconds:.0f} s; "
            f"waits deferred at the triggerer kill {self.deferred_at_triggerer_kill} "
            f"(triggers held {self.triggers_before_kill}), taken over in "
            f"{self.takeover_seconds:.0f} s (then held {self.triggers_at_release}); "
            f"at the worker kill {self.deferred_at_worker_kill} "
            f"(restarted after {self.worker_down_seconds:.0f} s); "
            f"failed waits {len(self.failed_waits)}; upstream jobs {self.jobs} "
            f"({self.jobs / self.videos:.2f} per video; "
            + ", ".join(f"{k} {v}" for k, v in self.jobs_by_upstream.items())
            + f"); {LIMITED_UPSTREAM} 429s {self.limited_429} of {self.limited_requests} "
            f"requests ({100 * self.share_429:.2f} %); job end to task success p95 "
            f"{self.p95_end_to_success:.1f} s (worst {self.worst_end_to_success:.1f} s; "
            f"{self.end_to_success}); "
            f"Airflow's CPU {self.cpu_seconds:.0f} s ({self.cpu_seconds / self.videos:.2f} s "
            "per video); "
            f"worker killed {self.worker_kill} (jobs then {self.jobs_at_worker_kill}); "
            f"failed tasks {len(self.failures)}"
            + "".join(
                f"; {task}[{index}] {state}: {reason}"
                for task, index, state, reason in self.failures
            )
            + f"; jobs no task recorded {self.jobs_without_task}"
        )


def run_distributed(
    deployment: Deployment,
    videos: int,
    job_seconds: tuple[int, int],
    say: Callable[[str], None],
    worker_kill: str = "deferred",
    dag: str = DISTRIBUTED_DAG,
    replace_triggerer: bool = False,
) -> DistributedRun:
    """The distributed batch: every job held until the kills; one triggerer SIGKILLed once
    half the waits are deferred (its peer takes over, no replacement), one Celery worker once
    all are (``worker_kill="deferred"``), or once three quarters of the videos have their job
    while the other submits still go out (``"submitting"``: a submit killed after its POST
    left is then refused on its retry, rightly), restarted a few seconds later; then the jobs
    released.  ``dag``: :data:`DISTRIBUTED_DAG`, or :data:`ON_WORKER_DAG` for the same batch
    resuming every finished wait on a worker.  ``replace_triggerer``: the killed triggerer
    started again at once, as a process supervisor would (its waits are then shared)."""
    if worker_kill not in ("deferred", "submitting"):
        raise ValueError(f"worker_kill is 'deferred' or 'submitting', not {worker_kill!r}")
    url = deployment.emulator_url
    result = DistributedRun(videos, worker_kill=worker_kill, dag=dag)
    for upstream in ("xcompute", "mountsea", "xai"):
        response = deployment.api.post(
            "/pools",
            json={"name": f"grokvideo_{upstream}", "slots": POOL_SLOTS, "include_deferred": False},
        )
        assert response.status_code in (200, 201, 409), response.text
    low, high = job_seconds
    started, started_at = time.monotonic(), time.time()
    deployment.hold_jobs(url)
    cpu = CpuMeter(lambda: [*deployment.services.values(), *deployment.stopped]).start()
    run_id = deployment.trigger(dag, {"videos": videos, "min_seconds": low, "max_seconds": high})

    # One triggerer, the one holding more triggers, once half the waits are deferred.
    wait_deferred(deployment, dag, run_id, math.ceil(videos / 2), 1800)
    result.triggers_before_kill = deployment.triggers_per_triggerer()
    victim = max(result.triggers_before_kill, key=lambda name: result.triggers_before_kill[name])
    victim_job = deployment.triggerer_job_ids[victim]
    result.killed_triggerer = victim
    result.deferred_at_triggerer_kill = deployment.count(dag, run_id, "deferred")
    pids = deployment.kill(victim)
    killed_at = time.monotonic()
    if replace_triggerer:
        deployment.restart(victim)
    say(
        f"deploy: SIGKILLed {victim} ({len(pids)} processes) at {killed_at - started:.0f} s "
        f"with {result.deferred_at_triggerer_kill} waits deferred, triggers held "
        f"{result.triggers_before_kill}; "
        + ("a replacement started" if replace_triggerer else "no replacement")
    )

    # Another triggerer takes the killed one's triggers over once its heartbeat is stale
    # ([triggerer] triggerer_health_check_threshold). Timed from the kill: measured after the
    # worker's kill (as it once was), it read as minutes.
    def taken_over() -> bool:
        held = deployment.sql(f"SELECT count(*) FROM trigger WHERE triggerer_id = {victim_job}")
        return int(held[0][0]) == 0

    wait_for(taken_over, 300, f"the triggers of {victim} to be taken over", deployment, 0.5)
    result.takeover_seconds = time.monotonic() - killed_at
    say(f"deploy: {victim}'s triggers taken over after {result.takeover_seconds:.0f} s")

    # One worker once every wait is deferred (no wait is then running on a worker), or while
    # submits still go out; back after a few seconds as a supervisor would bring it.
    if worker_kill == "deferred":
        wait_deferred(deployment, dag, run_id, videos, 1800)
    else:
        wait_for(
            lambda: _jobs(deployment, url) >= videos * 3 // 4,
            1800,
            "three quarters of the videos to have their job",
            deployment,
            1,
        )
    result.deferred_at_worker_kill = deployment.count(dag, run_id, "deferred")
    result.jobs_at_worker_kill = _jobs(deployment, url)
    pids = deployment.kill("celery-worker-1")
    down = time.monotonic()
    say(
        f"deploy: SIGKILLed celery-worker-1 ({len(pids)} processes) at {down - started:.0f} s "
        f"with {result.deferred_at_worker_kill} waits deferred, "
        f"{result.jobs_at_worker_kill} of {videos} jobs made"
    )
    time.sleep(5)
    deployment.restart("celery-worker-1")
    result.worker_down_seconds = time.monotonic() - down

    result.triggers_at_release = deployment.triggers_per_triggerer()
    released = deployment.release_jobs(url)
    say(f"deploy: {released} jobs released")

    result.state = deployment.wait_for_run(dag, run_id, 3600)
    result.seconds = time.monotonic() - started
    result.cpu_seconds = cpu.stop()
    tis = deployment.task_instances(dag, run_id)
    waits = [ti for ti in tis if ti["task_id"].startswith(WAIT_TASK_PREFIXES)]
    result.failed_waits = [
        (ti["task_id"], ti["map_index"], ti["state"]) for ti in waits if ti["state"] != "success"
    ]
    result.not_succeeded = [
        (ti["task_id"], ti["map_index"], ti["state"]) for ti in tis if ti["state"] != "success"
    ]
    result.failures = [
        (ti["task_id"], ti["map_index"], ti["state"], failure_reason(deployment, dag, run_id, ti))
        for ti in tis
        if ti["state"] not in ("success", "upstream_failed", "skipped")
    ]
    stats = deployment.emulator_stats(url)
    result.jobs_by_upstream = {n: s["submissions"] for n, s in stats["upstreams"].items()}
    result.jobs = sum(result.jobs_by_upstream.values())
    result.jobs_total = stats["jobs_total"]
    limited = stats["upstreams"][LIMITED_UPSTREAM]
    result.limited_requests = limited["requests"]
    result.limited_429 = limited["rate_limited_submit"] + limited["rate_limited_status"]
    (
        result.p95_end_to_success,
        result.worst_end_to_success,
        result.end_to_success,
    ) = _end_to_success(deployment, dag, run_id, waits)
    if result.state == "success":
        result.report = deployment.xcom(dag, run_id, "report")
    recorded = deployment.sql(
        "SELECT count(DISTINCT value->>'generation_id') FROM xcom "
        f"WHERE dag_id = '{dag}' AND run_id = '{run_id}' AND key = 'grokvideo'"
    )
    result.jobs_without_task = result.jobs - int(recorded[0][0])
    result.writes = metadata_writes(deployment, dag, run_id, videos)
    result.calls = describe_calls(execution_api_calls(deployment, since=started_at), videos)
    result.wait_starts = task_starts(deployment, waits)
    result.starts = f"{describe_starts(task_starts(deployment, tis), videos)}; waits: " + (
        describe_starts(result.wait_starts, videos)
    )
    return result


def _jobs(deployment: Deployment, url: str) -> int:
    stats = deployment.emulator_stats(url)
    return sum(int(s["submissions"]) for s in stats["upstreams"].values())


#: The line of a task's log that says why it failed: the durable submit's refusal first, else
#: the last error.
_REFUSAL = re.compile(r"Not submitting: [^\n\"]*? ended before reading the answer")
_ERROR = re.compile(r"(?:AirflowFailException|Error|Exception)[:\s]+([^\n\"]{1,240})")


def failure_reason(deployment: Deployment, dag_id: str, run_id: str, ti: dict[str, Any]) -> str:
    """Why a task instance did not succeed, from its last try's log (one line, shortened)."""
    task_id, index, tries = ti["task_id"], ti["map_index"], ti.get("try_number") or 1
    if ti["state"] != "failed":
        return f"left {ti['state']}"
    try:
        log = deployment.task_log_of(dag_id, run_id, task_id, tries, index)
    except httpx.HTTPError as exc:
        return f"log unreadable ({exc})"
    refusal = _REFUSAL.search(log)
    if refusal:
        return f"try {tries}: {refusal.group(0)[:300]}"
    errors = _ERROR.findall(log)
    if not errors:  # a task dies with a SIGKILLed worker without a word
        return f"try {tries}: no error in its log (it did not end itself: its worker died)"
    return f"try {tries}: {errors[-1]}"


def _end_to_success(
    deployment: Deployment, dag_id: str, run_id: str, waits: list[dict[str, Any]]
) -> tuple[float, float, str]:
    """p95 and worst seconds from a job's end (the emulator's clock) to its wait's success, and
    where they go: p50/p95 from the end to the first status read that saw it (polling), and
    from there to the task's success (the trigger's event, the XComs, Airflow's state)."""
    from datetime import datetime

    rows = deployment.sql(
        "SELECT task_id, map_index, value->>'generation_id' FROM xcom "
        f"WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' AND key = 'return_value' "
        "AND (task_id LIKE 'wait_%' OR task_id LIKE 'generate_and_wait_%')"
    )
    ids = {(task, int(index)): gid for task, index, gid in rows}
    delays, noticed, airflow = [], [], []
    with httpx.Client(base_url=deployment.emulator_url, timeout=30) as emulator:
        for ti in waits:
            gid = ids.get((ti["task_id"], ti["map_index"]))
            if not gid or ti["state"] != "success" or not ti.get("end_date"):
                continue
            job = emulator.get(f"/_emulator/jobs/{gid}").json()
            ended = datetime.fromisoformat(ti["end_date"].replace("Z", "+00:00")).timestamp()
            delays.append(ended - float(job["ends"]))
            if job.get("seen_ended") is not None:
                noticed.append(float(job["seen_ended"]) - float(job["ends"]))
                airflow.append(ended - float(job["seen_ended"]))
    if not delays:
        return math.nan, math.nan, ""
    split = "; ".join(
        f"{name} p50 {percentile(values, 50):.1f} s, p95 {percentile(values, 95):.1f} s"
        for name, values in (("noticed", noticed), ("then success", airflow))
        if values
    )
    return percentile(delays, 95), max(delays), f"p50 {percentile(delays, 50):.1f} s; {split}"


# -- each ending of a wait, in a deployment ------------------------------------------------------

ENDINGS_DAG = "grokvideo_deploy_endings"
#: Its generate tasks, one upstream job each: a retry polls its first try's job.
ENDINGS_JOBS = 7
#: The waits that their trigger ends, and how.
ENDED_BY_THE_TRIGGER = {
    "generate_and_wait": "success",
    "wait": "success",
    "fails_then_retries": "failed",
    "fails": "failed",
    "skips": "skipped",
}
#: The waits held deferred until the emulator lets their jobs end (``skips`` times out alone).
DEFERRED_BEFORE_THE_END = (
    "generate_and_wait",
    "wait",
    "fails_then_retries",
    "fails",
    "generate_and_wait_on_worker",
    "wait_on_worker",
)
#: The twins that resume on a worker (``end_from_trigger=False``), whose XComs those of the
#: ended ones must equal.
TWINS = {"generate_and_wait": "generate_and_wait_on_worker", "wait": "wait_on_worker"}


@dataclass
class Endings:
    """What one run of :data:`ENDINGS_DAG` did."""

    run_id: str
    state: str
    states: dict[str, str]
    tries: dict[str, int]
    #: Worker starts of each task's last try.
    starts: dict[str, int]
    #: xAI jobs made during the run.
    jobs: int
    #: Each task's XComs as Airflow's REST API reads them (``deserialize=true``), by key.
    xcoms: dict[str, dict[str, Any]]
    #: The callbacks that ran: (callback, task, try, process).
    callbacks: list[tuple[str, str, int, str]]
    #: The log of ``fails``' only try, as the UI shows it.
    fails_log: str
    #: The "Grok videos" page of the run, as the API server serves it (PostgreSQL's SQL).
    page: str
    #: Each task's extra links as the UI reads them (Airflow's extra-links route).
    links: dict[str, dict[str, str | None]]


def _page_of(deployment: Deployment, run_id: str) -> str:
    response = deployment.api.get(
        f"{deployment.api_url}/grokvideo/", params={"run_id": run_id, "page_size": 50}
    )
    response.raise_for_status()
    return response.text


def _links_of(deployment: Deployment, run_id: str, task_id: str) -> dict[str, str | None]:
    response = deployment.api.get(
        f"/dags/{ENDINGS_DAG}/dagRuns/{run_id}/taskInstances/{task_id}/links"
    )
    response.raise_for_status()
    return dict(response.json()["extra_links"])


def _xai_jobs(deployment: Deployment) -> int:
    stats = deployment.emulator_stats(deployment.emulator_url)
    return int(stats["upstreams"]["xai"]["submissions"])


def _task_xcoms(deployment: Deployment, run_id: str, task_id: str) -> dict[str, Any]:
    response = deployment.api.get(
        f"/dags/{ENDINGS_DAG}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries"
    )
    response.raise_for_status()
    keys = [entry["key"] for entry in response.json()["xcom_entries"]]
    return {key: deployment.xcom(ENDINGS_DAG, run_id, task_id, key) for key in keys}


def _callbacks(deployment: Deployment) -> list[tuple[str, str, int, str]]:
    path = deployment.home / "callbacks.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    notes = [json.loads(line) for line in lines]
    return sorted(
        (note["callback"], note["task_id"], note["try_number"], note["process"]) for note in notes
    )


def run_endings(deployment: Deployment, say: Callable[[str], None]) -> Endings:
    """One run of :data:`ENDINGS_DAG`, and what it did once its three callbacks have run (the
    DAG processor runs those of the tasks ended by their trigger, after the run may be over)."""
    deployment.wait_for_dags(ENDINGS_DAG)
    # Whatever an earlier test left (an outage, a fault, a hold): gone; its jobs are over.
    url = deployment.emulator_url
    deployment.reset_emulator(url)
    jobs_before = _xai_jobs(deployment)
    # No job ends until every wait that must end in the triggerer has deferred: on a busy
    # machine a wait started late would otherwise find its job over and end on its worker.
    deployment.hold_jobs(url)
    run_id = deployment.trigger(ENDINGS_DAG)

    def all_deferred() -> bool:
        tis = deployment.task_instances(ENDINGS_DAG, run_id)
        states = {ti["task_id"]: ti["state"] for ti in tis}
        return all(states.get(task_id) == "deferred" for task_id in DEFERRED_BEFORE_THE_END)

    wait_for(all_deferred, 600, "the waits to defer", deployment, 1)
    deployment.release_jobs(url)
    state = deployment.wait_for_run(ENDINGS_DAG, run_id, 900)
    wait_for(lambda: len(_callbacks(deployment)) >= 3, 300, "three callbacks to run", deployment, 1)
    tis = deployment.task_instances(ENDINGS_DAG, run_id)
    by_id = {str(ti["id"]): ti["task_id"] for ti in tis}
    endings = Endings(
        run_id=run_id,
        state=state,
        states={ti["task_id"]: ti["state"] for ti in tis},
        tries={ti["task_id"]: int(ti["try_number"]) for ti in tis},
        starts={by_id[ti_id]: n for ti_id, n in worker_starts(deployment, tis).items()},
        jobs=_xai_jobs(deployment) - jobs_before,
        xcoms={ti["task_id"]: _task_xcoms(deployment, run_id, ti["task_id"]) for ti in tis},
        callbacks=_callbacks(deployment),
        fails_log=deployment.task_log_of(ENDINGS_DAG, run_id, "fails", 1),
        page=_page_of(deployment, run_id),
        links={ti["task_id"]: _links_of(deployment, run_id, ti["task_id"]) for ti in tis},
    )
    say(
        f"deploy: endings: run {state}; states {endings.states}; tries {endings.tries}; "
        f"worker starts {endings.starts}; xAI jobs {endings.jobs}; callbacks {endings.callbacks}"
    )
    return endings


def _comparable(xcoms: dict[str, Any], run_id: str) -> Any:
    """A task's XComs with its job's id, the run's id and the times made equal."""
    # A success's record is its return value (a sensor has no other); a failure's, its record.
    record = xcoms.get("return_value") or xcoms.get("grokvideo") or {}
    return comparable(xcoms, str(record.get("generation_id")), run_id)


def check_endings(endings: Endings) -> None:
    """What a deployment must show of the waits that their trigger ends: each outcome, with the
    XComs of a worker's ending, one worker start per try, no second job for a retry, and the
    callbacks run by the DAG processor."""
    assert endings.state == "failed", endings.states  # two waits fail, on purpose
    for task_id, state in ENDED_BY_THE_TRIGGER.items():
        assert endings.states[task_id] == state, (task_id, endings.states)
        # Its last try was started once (each try has an id of its own): never resumed.
        assert endings.starts[task_id] == 1, (task_id, "resumed on a worker", endings.starts)
    for twin in TWINS.values():
        assert endings.states[twin] == "success" and endings.starts[twin] == 2, endings.starts
    # The retry read its first try's job: no second job (its try 2 fails on its first read).
    assert endings.tries["fails_then_retries"] == 2
    assert endings.jobs == ENDINGS_JOBS, f"{endings.jobs} jobs for {ENDINGS_JOBS} generate tasks"
    for ended, twin in TWINS.items():
        mine, theirs = endings.xcoms[ended], endings.xcoms[twin]
        assert sorted(mine) == sorted(theirs), (ended, sorted(mine), sorted(theirs))
        assert _comparable(mine, endings.run_id) == _comparable(theirs, endings.run_id), ended
        assert mine["return_value"]["status"] == "succeeded" and mine["return_value"]["cost_usd"]
        # The page link: the API server's, from the plugin (no task pushed it), to the task's
        # generation on the page.
        assert "_link_GrokVideoLink" not in mine, sorted(mine)
        for task_id in (ended, twin):
            link = endings.links[task_id]["Grok video"] or ""
            assert link.startswith("http") and f"task_id={task_id}" in link, endings.links
    for task_id in ("fails", "fails_then_retries"):
        record = endings.xcoms[task_id]["grokvideo"]
        assert record["status"] == "failed" and record["error"], record
        assert "return_value" not in endings.xcoms[task_id]
    assert endings.xcoms["skips"]["grokvideo"]["status"] == "timeout"
    # The page, on PostgreSQL: each success read from its return value (the ended ones pushed
    # no record of it), each failure from its record.
    shown = cards(endings.page)
    for task_id in (*TWINS, *TWINS.values()):
        generation_id = endings.xcoms[task_id]["return_value"]["generation_id"]
        assert ">succeeded<" in shown[generation_id], (task_id, shown.get(generation_id))
    for task_id in ("fails", "fails_then_retries"):
        generation_id = endings.xcoms[task_id]["grokvideo"]["generation_id"]
        assert ">failed<" in shown[generation_id], (task_id, shown.get(generation_id))
    # The upstream's failure, in the failed task's log as the UI shows it (the trigger's part).
    generation_id = endings.xcoms["fails"]["grokvideo"]["generation_id"]
    assert f"generation {generation_id} failed" in endings.fails_log, endings.fails_log[-2000:]
    assert "the task ends failed here" in endings.fails_log, endings.fails_log[-2000:]
    # Up for retry and failed from the triggerer: the DAG processor ran those callbacks; the
    # retry's failure, on its worker.
    ran = {(kind, task, tries): process for kind, task, tries, process in endings.callbacks}
    assert sorted(ran) == [
        ("failure", "fails", 1),
        ("failure", "fails_then_retries", 2),
        ("retry", "fails_then_retries", 1),
    ], endings.callbacks
    assert ran[("failure", "fails", 1)] == ran[("retry", "fails_then_retries", 1)], ran
    assert "dag-processor" in ran[("failure", "fails", 1)], ran
