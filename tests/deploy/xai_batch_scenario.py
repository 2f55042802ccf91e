"""The xAI batch deployment scenario (``tests/deploy/test_batch_deployment.py`` asserts on it,
``benchmarks/deployment.py --batch`` prints it): hundreds of videos in ONE xAI batch
(``GrokVideoBatchOperator``) on the distributed deployment (CeleryExecutor on Redis and
PostgreSQL, two workers, two triggerers), the xAI key limited to 1 request/s in the emulator
and on its connection, the result URLs' life shortened by the emulator so that a video stored
too late is lost, one triggerer and one Celery worker SIGKILLed while results are coming in.

Each kill is made to happen at a known point, never by sleeping and hoping:

1. the emulator's jobs are held once a fifth of the videos is stored: no new result can come,
   so once its trigger has polled twice without firing the task sits deferred in one
   triggerer; that triggerer is SIGKILLed and its peer must take the same trigger over;
2. the jobs released, once two fifths are stored a slow-answer fault is queued on the
   emulator's CDN: the task's next download hangs, and the worker running it is SIGKILLed in
   the middle of a store round (restarted a few seconds later), so the task's retry must
   re-attach to the batch, add nothing, and store the rest before their URLs expire.

The figures are printed, never asserted on; the outcomes are asserted by the test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from airflow_provider_grokvideo.pricing import format_usd, ticks_to_usd
from deploy.airflow_deployment import Deployment, wait_for

BATCH_API_DAG = "grokvideo_deploy_xai_batch"
BATCH_TASK = "batch"
#: The rate xAI publishes for a video model (1 request/s per key), in the emulator and on the
#: connection.
XAI_RATE = 1.0
#: The trigger's poll interval in the DAG (``POLL_INTERVAL`` there).
POLL_INTERVAL = 5.0
#: How long the slow CDN answer hangs: far past the kill (the download's own timeout is 60 s).
HANG_SECONDS = 600.0


@dataclass
class XaiBatchRun:
    """What the batch run did (every figure the scenario prints)."""

    videos: int
    url_seconds: float
    state: str = ""
    seconds: float = 0.0
    #: Videos stored when the triggerer, then the worker, was killed.
    stored_at_triggerer_kill: int = 0
    stored_at_worker_kill: int = 0
    triggerer_killed: str = ""
    takeover_seconds: float = math.nan
    worker_killed: str = ""
    worker_down_seconds: float = 0.0
    #: The batch task's tries (2: the killed one and its retry).
    tries: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    files: int = 0
    #: Stored files whose bytes are not an MP4 (``ftyp`` at offset 4).
    bad_files: list[str] = field(default_factory=list)
    batch_stats: dict[str, int] = field(default_factory=dict)
    xai_requests: int = 0
    xai_429: int = 0
    cdn_requests: int = 0
    #: Seconds from the first result ready to the last file stored.
    first_result_to_last_file: float = math.nan
    #: The longest a result waited for its file (seconds from ready to stored).
    worst_age: float = math.nan
    #: Videos whose URL expired before the batch's last result was ready: what a task that
    #: stored the batch only at its end would have lost.
    lost_if_stored_at_end: int = 0

    @property
    def lost_to_expiry(self) -> int:
        return int(self.report.get("expired", 0))

    def kills_survived(self) -> int:
        done = self.state == "success"
        return done * (bool(self.triggerer_killed) + bool(self.worker_killed))

    def figures(self) -> str:
        billed = int(self.report.get("billed_ticks", 0))
        interactive = int(self.report.get("interactive_estimate_ticks", 0))
        share = f"{100 * billed / interactive:.0f} %" if interactive else "n/a"
        stats = self.batch_stats
        return (
            f"videos {self.videos} in {len(self.report.get('batch_ids', []))} batch(es), run "
            f"{self.state} in {self.seconds:.0f} s; files stored {self.files} "
            f"({self.report.get('distinct_files', 0)} distinct); batch calls: creates "
            f"{stats.get('creates', 0)}, add calls {stats.get('adds', 0)}, requests added "
            f"{stats.get('requests_added', 0)}, counter reads {stats.get('gets', 0)}, lists "
            f"{stats.get('lists', 0)}, cancels {stats.get('cancels', 0)}; xAI requests per "
            f"video {self.xai_requests / self.videos:.3f} ({self.xai_requests}), 429s "
            f"{self.xai_429} ({100 * self.xai_429 / max(1, self.xai_requests):.1f} %); CDN "
            f"downloads per video {self.cdn_requests / self.videos:.3f}; first result to last "
            f"file stored {self.first_result_to_last_file:.0f} s, longest a result waited "
            f"{self.worst_age:.0f} s of its URL's {self.url_seconds:.0f} s; videos lost to the "
            f"URL expiry {self.lost_to_expiry} (a task storing only at the batch's end would "
            f"have lost {self.lost_if_stored_at_end}); billed {format_usd(ticks_to_usd(billed))}"
            f" against the interactive estimate {format_usd(ticks_to_usd(interactive))} "
            f"({share}); kills survived "
            f"{self.kills_survived()} of 2 ({self.triggerer_killed} with "
            f"{self.stored_at_triggerer_kill} stored, taken over in {self.takeover_seconds:.0f} "
            f"s; {self.worker_killed} mid-store with {self.stored_at_worker_kill} stored, "
            f"restarted after {self.worker_down_seconds:.0f} s); batch task tries {self.tries}"
        )


def run_xai_batch(
    deployment: Deployment,
    videos: int,
    job_seconds: tuple[int, int],
    url_seconds: float,
    say: Callable[[str], None],
) -> XaiBatchRun:
    """One batch of ``videos`` with a triggerer and a worker killed while results come in
    (see the module's docstring); ``url_seconds``: how long a result's URL lives."""
    url, result = deployment.emulator_url, XaiBatchRun(videos, url_seconds)
    folder = deployment.home / "batch-videos"
    response = httpx.put(
        f"{url}/_emulator/xai-batch", json={"url_seconds": url_seconds}, timeout=30
    )
    response.raise_for_status()
    low, high = job_seconds
    started = time.monotonic()
    run_id = deployment.trigger(
        BATCH_API_DAG,
        {
            "videos": videos,
            "min_seconds": low,
            "max_seconds": high,
            "destination": folder.as_uri(),
        },
    )
    dag = BATCH_API_DAG

    def stored() -> int:
        return len(list(folder.glob("*.mp4")))

    def ended() -> bool:
        if deployment.run_state(dag, run_id) in ("success", "failed"):
            raise AssertionError(f"the run ended before its kills ({stored()} stored)")
        return False

    # 1. A fifth stored, then no new result: the task deferred in one triggerer, which dies.
    wait_for(lambda: ended() or stored() >= videos // 5, 900, "a fifth to be stored", deployment, 1)
    deployment.hold_jobs(url)
    trigger, victim = _quiet_trigger(deployment, dag, run_id, url)
    result.stored_at_triggerer_kill = stored()
    pids = deployment.kill(victim)
    killed_at = time.monotonic()
    result.triggerer_killed = victim
    say(
        f"deploy: SIGKILLed {victim} ({len(pids)} processes) holding the batch's trigger "
        f"{trigger}, {result.stored_at_triggerer_kill} of {videos} stored; no replacement"
    )
    survivor = next(name for name in deployment.triggerer_job_ids if name in deployment.services)
    survivor_job = deployment.triggerer_job_ids[survivor]

    def taken_over() -> bool:
        held = deployment.sql(f"SELECT triggerer_id FROM trigger WHERE id = {trigger}")
        if not held:
            raise AssertionError(f"trigger {trigger} fired or vanished before its takeover")
        return held[0][0] not in (None, "") and int(held[0][0]) == survivor_job

    wait_for(taken_over, 300, f"{survivor} to take trigger {trigger} over", deployment, 1)
    result.takeover_seconds = time.monotonic() - killed_at

    # 2. Two fifths stored, the next download hangs: the worker storing results dies there.
    released = deployment.release_jobs(url)
    say(
        f"deploy: {survivor} took trigger {trigger} over after {result.takeover_seconds:.0f} s;"
        f" {released} jobs released"
    )
    wait_for(
        lambda: ended() or stored() >= 2 * videos // 5,
        600,
        "two fifths to be stored",
        deployment,
        0.5,
    )
    deployment.inject(url, fault="slow", endpoint="cdn", delay=HANG_SECONDS, count=1)
    wait_for(
        lambda: ended() or _fired(deployment, url, "slow") >= 1,
        600,
        "a download of the batch task to hang",
        deployment,
        0.5,
    )
    worker = _worker_running(deployment, dag, run_id, url)
    result.stored_at_worker_kill = stored()
    pids = deployment.kill(worker)
    down = time.monotonic()
    result.worker_killed = worker
    say(
        f"deploy: SIGKILLed {worker} ({len(pids)} processes) in a store round, "
        f"{result.stored_at_worker_kill} of {videos} stored"
    )
    time.sleep(5)  # as a supervisor would bring it back
    deployment.restart(worker)
    result.worker_down_seconds = time.monotonic() - down

    result.state = deployment.wait_for_run(dag, run_id, 1800)
    result.seconds = time.monotonic() - started
    (ti,) = [ti for ti in deployment.task_instances(dag, run_id) if ti["task_id"] == BATCH_TASK]
    result.tries = int(ti.get("try_number") or 0)
    stats = deployment.emulator_stats(url)
    result.batch_stats = {k: int(v) for k, v in stats["xai_batches"].items() if k != "url_seconds"}
    xai = stats["upstreams"]["xai"]
    result.xai_requests = int(xai["requests"])
    result.xai_429 = int(xai["rate_limited_submit"]) + int(xai["rate_limited_status"])
    result.cdn_requests = int(stats["cdn_requests"])
    files = sorted(folder.glob("*.mp4"))
    result.files = len(files)
    result.bad_files = [path.name for path in files if not _is_mp4(path)]
    if result.state == "success":
        result.report = deployment.xcom(dag, run_id, "report")
        entries = deployment.xcom(dag, run_id, BATCH_TASK)
        _timeline(result, entries, folder, url)
    return result


def _batch_ti(deployment: Deployment, dag_id: str, run_id: str) -> tuple[str, int | None, Any]:
    """The batch task's state, its trigger's id and the triggerer job holding it."""
    rows = deployment.sql(
        "SELECT ti.state, ti.trigger_id, t.triggerer_id FROM task_instance ti "
        "LEFT JOIN trigger t ON t.id = ti.trigger_id "
        f"WHERE ti.dag_id = '{dag_id}' AND ti.run_id = '{run_id}' AND ti.task_id = '{BATCH_TASK}'"
    )
    if not rows:
        return "", None, None
    state, trigger, triggerer = rows[0]
    return str(state or ""), int(trigger) if trigger not in (None, "") else None, triggerer


def _quiet_trigger(deployment: Deployment, dag_id: str, run_id: str, url: str) -> tuple[int, str]:
    """Wait (jobs held) until the batch task is deferred on a trigger that a triggerer holds
    and that has read the batch's counters twice without firing: with no result to come, it
    will not fire before its kill.  Its id and the triggerer's service name."""
    seen: dict[str, Any] = {}

    def quiet() -> bool:
        state, trigger, triggerer = _batch_ti(deployment, dag_id, run_id)
        reads = int(deployment.emulator_stats(url)["xai_batches"]["gets"])
        if state != "deferred" or trigger is None or triggerer in (None, ""):
            seen.clear()
            return False
        if seen.get("trigger") != trigger:
            seen.update(trigger=trigger, reads=reads, triggerer=int(triggerer))
            return False
        # Only this trigger reads the counters while the task is deferred.
        return reads - int(seen["reads"]) >= 2

    wait_for(quiet, 600, "the batch's trigger to poll twice without firing", deployment, 1)
    names = {job: name for name, job in deployment.triggerer_job_ids.items()}
    return int(seen["trigger"]), names[int(seen["triggerer"])]


def _fired(deployment: Deployment, url: str, fault: str) -> int:
    return int(deployment.emulator_stats(url)["faults_fired"].get(fault, 0))


def _worker_running(deployment: Deployment, dag_id: str, run_id: str, url: str) -> str:
    """The Celery worker whose processes run the batch task: the one holding the task's pid,
    else the one with a connection open to the emulator (the hanging download)."""
    rows = deployment.sql(
        f"SELECT pid FROM task_instance WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' "
        f"AND task_id = '{BATCH_TASK}'"
    )
    pid = int(rows[0][0]) if rows and rows[0][0] not in (None, "") else None
    port = int(url.rsplit(":", 1)[1])
    workers = [name for name in deployment.services if name.startswith("celery-worker")]
    for name in workers:
        if pid is not None and pid in {proc.pid for proc in deployment.services[name].tree()}:
            return name
    for name in workers:
        for proc in deployment.services[name].tree():
            try:
                connections = proc.net_connections(kind="tcp")
            except Exception:  # psutil.Error: the process ended meanwhile
                continue
            if any(c.raddr and c.raddr.port == port for c in connections):
                return name
    raise AssertionError(f"no Celery worker runs the batch task (pid {pid})")


def _is_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    return len(head) == 12 and head[4:8] == b"ftyp"


def _timeline(result: XaiBatchRun, entries: list[dict[str, Any]], folder: Path, url: str) -> None:
    """When each result was ready (the emulator's job end) against when its file was stored
    (the file's modification time): the span, the longest wait, and what storing only at the
    batch's end would have lost."""
    ready: list[float] = []
    ages: list[float] = []
    last_stored = -math.inf
    with httpx.Client(base_url=url, timeout=30) as emulator:
        for entry in entries:
            if entry.get("status") != "succeeded" or not entry.get("video_urls"):
                continue
            job_id = entry["video_urls"][0].rsplit("/", 1)[1].split(".", 1)[0]
            ends = float(emulator.get(f"/_emulator/jobs/{job_id}").json()["ends"])
            ready.append(ends)
            for uri in entry["uris"]:
                stored_at = (folder / uri.rsplit("/", 1)[1]).stat().st_mtime
                ages.append(stored_at - ends)
                last_stored = max(last_stored, stored_at)
    if not ready:
        return
    result.first_result_to_last_file = last_stored - min(ready)
    result.worst_age = max(ages)
    result.lost_if_stored_at_end = sum(at + result.url_seconds < max(ready) for at in ready)
