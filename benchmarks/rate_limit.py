"""Many waits on one connection against an upstream that allows R requests per second per key.

The emulator (its own process) limits the key to R status reads per second
(``PUT /_emulator/rate-limits``, a token bucket holding one second's worth) and answers 429
with ``Retry-After`` beyond it, as real upstreams do.  N ``GrokVideoTrigger`` waits run in one
event loop, as in a triggerer, three ways:

* ``configured``: the connection's ``requests_per_second`` extra is R (the pacer holds it);
* ``learned``: no extra: the pacer learns the budget from the 429s (AIMD);
* ``unpaced``: today's behaviour before the pacer: every wait spaces its own polls and, on a
  429, waits the ``Retry-After`` it got, alone.

Jobs are submitted before the limit is set and finish at spread-out times (10..60 s by
default); poll spacing is the load benchmark's (0.5..12 s, ten times shorter than the
trigger's defaults).  For each run it prints requests per video, the share refused with 429,
the detection delay (event time minus the job's end; median and p95) against the floor N / R
(the time one round of polls takes at the allowed rate), and whether every video succeeded;
then the targets: configured at most 1 % refused, learned at most 10 %, p95 within 2x the
floor, no failure.

Then **several processes sharing the key** (``--processes``, default 2 and 4): the same waits
split over P triggerer-like processes (each its own interpreter and event loop), as a
deployment with several triggerers, four ways:

* ``alone``: each process configured with R and no shared store: the key sees up to P x R
  (what a deployment without ``redis_conn_id`` gets);
* ``shared``: the same with ``redis_conn_id`` naming a real ``redis-server`` (started here on a
  free port): one budget of R for all;
* ``learned-alone`` and ``learned-shared``: no rate configured, learned from the 429s, alone
  or in the store;
* ``split`` (``--multi-mode split``): the hand-made split without a store, R / P each.

For the shared runs it adds the store calls per request (Redis ``commandstats``).  Prints
figures; asserts nothing.

    python benchmarks/rate_limit.py                      # 120 waits at 1 and 4/s, 1,000 at 10/s
    python benchmarks/rate_limit.py --case 120x4 --mode learned
    python benchmarks/rate_limit.py --case 120x4 --mode configured --processes 2 --processes 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The load benchmark's emulator process and job helpers: one place for them.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from triggerer_load import API_KEY, EmulatorProcess, job_ends, submit_jobs

CASES = {"120x1": (120, 1.0), "120x4": (120, 4.0), "1000x10": (1000, 10.0)}
MODES = ("configured", "learned", "unpaced")
MULTI_MODES = ("alone", "shared", "learned-alone", "learned-shared", "split")
DEFAULT_MULTI_MODES = ("alone", "shared", "learned-alone", "learned-shared")
TARGET_REFUSED = {
    "configured": 0.01,
    "learned": 0.10,
    "shared": 0.01,
    "split": 0.01,
    "learned-shared": 0.10,
}
TARGET_P95_FLOOR = 2.0


@dataclass
class Run:
    waits: int
    rate: float
    mode: str
    processes: int = 1
    store_calls: int = 0
    requests: int = 0
    refused: int = 0
    failed: int = 0
    wall: float = 0.0
    delays: list[float] = field(default_factory=list)

    @property
    def floor(self) -> float:
        return self.waits / self.rate

    def quantile(self, q: float) -> float:
        if not self.delays:
            return float("nan")
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def refused_share(self) -> float:
        return self.refused / self.requests if self.requests else float("nan")

    def verdict(self) -> str:
        problems = []
        limit = TARGET_REFUSED.get(self.mode)
        if limit is not None and not self.refused_share <= limit:
            problems.append(f"refused > {limit:.0%}")
        if limit is not None and not self.quantile(0.95) <= TARGET_P95_FLOOR * self.floor:
            problems.append(f"p95 > {TARGET_P95_FLOOR:g}x floor")
        if self.failed:
            problems.append(f"{self.failed} not succeeded")
        if self.mode in ("unpaced", "alone", "learned-alone"):
            return "(no shared budget)" + (f" {', '.join(problems)}" if problems else "")
        return "meets the targets" if not problems else "MISSES: " + ", ".join(problems)


def unpace() -> Any:
    """Make every connection's pacer a pass-through: the trigger as it was before the pacer."""
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.hooks.pacer import JobDurations

    class Forgetful(JobDurations):
        def add(self, started: float, last_running: float, done: float) -> None:
            return None

    class Unpaced:
        durations = Forgetful()

        def open(self) -> bool:
            return True

        def turn(self, delay: float = 0.0) -> Any:
            return asyncio.sleep(delay)

        def now(self) -> float:
            return 0.0

        def answered(self, now: float) -> None:
            return None

        def refused(self, sent_at: float, retry_after: float | None) -> None:
            return None

    original = GrokVideoHook.pacer
    shared = Unpaced()
    GrokVideoHook.pacer = lambda self: shared  # type: ignore[assignment,method-assign,return-value]
    return lambda: setattr(GrokVideoHook, "pacer", original)


async def wait_all(conn_id: str, ids: list[str], deadline: float) -> dict[str, tuple[str, float]]:
    from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

    async def one(generation_id: str) -> tuple[str, tuple[str, float]]:
        trigger = GrokVideoTrigger(
            conn_id=conn_id,
            generation_id=generation_id,
            deadline=deadline,
            poll_interval=2.0,
            min_poll_interval=0.5,
            max_poll_interval=12.0,
        )
        status = "none"
        async for event in trigger.run():
            status = event.payload["status"]
        return generation_id, (status, time.time())

    return dict(await asyncio.gather(*(one(i) for i in ids)))


def run(emulator: EmulatorProcess, waits: int, rate: float, mode: str, args: Any) -> Run:
    import httpx

    emulator.reset()  # no jobs, no limit
    seconds = [
        args.min_seconds + (args.max_seconds - args.min_seconds) * ((i * 7919) % waits) / waits
        for i in range(waits)
    ]
    ids = asyncio.run(submit_jobs(emulator.url, seconds))
    extra = {"requests_per_second": rate} if mode == "configured" else {}
    conn_id = f"bench_rate_{mode}"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {
            "conn_type": "grokvideo_xcompute",
            "host": f"{emulator.url}/xcompute",
            "password": API_KEY,
            "extra": extra,
        }
    )
    with httpx.Client(base_url=emulator.url, timeout=60) as client:
        client.put("/_emulator/rate-limits", json={"xcompute": rate}).raise_for_status()
        before = client.get("/_emulator/stats").json()["upstreams"]["xcompute"]
    restore = unpace() if mode == "unpaced" else None
    deadline = time.time() + args.max_seconds * 3 + 5 * waits / rate + 120
    started = time.perf_counter()
    try:
        outcomes = asyncio.run(wait_all(conn_id, ids, deadline))
    finally:
        if restore is not None:
            restore()
    result = Run(waits, rate, mode, wall=time.perf_counter() - started)
    with httpx.Client(base_url=emulator.url, timeout=60) as client:
        after = client.get("/_emulator/stats").json()["upstreams"]["xcompute"]
        client.put("/_emulator/rate-limits", json={"xcompute": None}).raise_for_status()
    result.refused = after["rate_limited_status"] - before["rate_limited_status"]
    result.requests = after["status_reads"] - before["status_reads"] + result.refused
    ends = asyncio.run(job_ends(emulator.url, ids))
    for generation_id in ids:
        status, at = outcomes.get(generation_id, ("missing", 0.0))
        if status == "succeeded":
            result.delays.append(at - ends[generation_id])
        else:
            result.failed += 1
    return result


def connection(url: str, extra: dict[str, Any]) -> str:
    return json.dumps(
        {
            "conn_type": "grokvideo_xcompute",
            "host": f"{url}/xcompute",
            "password": API_KEY,
            "extra": extra,
        }
    )


def run_multi(
    emulator: EmulatorProcess, store: Any, waits: int, rate: float, mode: str, processes: int,
    args: Any,
) -> Run:  # fmt: skip
    """The waits split over ``processes`` child processes sharing the key."""
    import httpx
    import redis

    emulator.reset()
    seconds = [
        args.min_seconds + (args.max_seconds - args.min_seconds) * ((i * 7919) % waits) / waits
        for i in range(waits)
    ]
    ids = asyncio.run(submit_jobs(emulator.url, seconds))
    extra: dict[str, Any] = {}
    if mode in ("alone", "shared"):
        extra["requests_per_second"] = rate
    elif mode == "split":
        extra["requests_per_second"] = rate / processes
    if mode.endswith("shared"):
        extra["redis_conn_id"] = "bench_budget_store"
    client = redis.Redis(host="127.0.0.1", port=store.port)
    client.flushall()  # nothing learned by an earlier run
    client.config_resetstat()
    with httpx.Client(base_url=emulator.url, timeout=60) as http:
        http.put("/_emulator/rate-limits", json={"xcompute": rate}).raise_for_status()
        before = http.get("/_emulator/stats").json()["upstreams"]["xcompute"]
    deadline = time.time() + args.max_seconds * 3 + 5 * waits / rate + 120
    start_at = time.time() + 8.0  # every child imported and waiting by then
    env = {
        **os.environ,
        "AIRFLOW_CONN_BENCH_RATE_MULTI": connection(emulator.url, extra),
        "AIRFLOW_CONN_BENCH_BUDGET_STORE": f"redis://127.0.0.1:{store.port}/?db=0",
    }
    children = []
    for index in range(processes):
        spec = {"ids": ids[index::processes], "deadline": deadline, "start_at": start_at}
        children.append(
            subprocess.Popen(
                [sys.executable, __file__, "--child", json.dumps(spec)],
                stdout=subprocess.PIPE,
                env=env,
            )
        )
    outcomes: dict[str, tuple[str, float]] = {}
    for child in children:
        stdout, _ = child.communicate()
        outcomes.update(
            {k: tuple(v) for k, v in json.loads(stdout.decode().splitlines()[-1]).items()}
        )
    result = Run(waits, rate, mode, processes=processes, wall=time.time() - start_at)
    with httpx.Client(base_url=emulator.url, timeout=60) as http:
        after = http.get("/_emulator/stats").json()["upstreams"]["xcompute"]
        http.put("/_emulator/rate-limits", json={"xcompute": None}).raise_for_status()
    result.refused = after["rate_limited_status"] - before["rate_limited_status"]
    result.requests = after["status_reads"] - before["status_reads"] + result.refused
    stats = client.info("commandstats")
    result.store_calls = sum(
        stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval")
    )
    ends = asyncio.run(job_ends(emulator.url, ids))
    for generation_id in ids:
        status, at = outcomes.get(generation_id, ("missing", 0.0))
        if status == "succeeded":
            result.delays.append(at - ends[generation_id])
        else:
            result.failed += 1
    return result


def child(spec: dict[str, Any]) -> None:
    """One process of a multi-process run: its share of the waits, in its own event loop."""
    import airflow.sdk  # noqa: F401  (configure Airflow before measuring)

    from airflow_provider_grokvideo.hooks import aget_video_hook  # noqa: F401  (warm up)
    from airflow_provider_grokvideo.triggers import video  # noqa: F401

    while time.time() < spec["start_at"]:
        time.sleep(0.01)
    outcomes = asyncio.run(wait_all("bench_rate_multi", spec["ids"], spec["deadline"]))
    sys.stdout.write("\n" + json.dumps(outcomes) + "\n")
    sys.stdout.flush()


def print_run(result: Run) -> None:
    calls = (
        f"  store calls/request {result.store_calls / result.requests:4.2f}"
        if result.store_calls and result.requests
        else ""
    )
    print(
        f"  {result.waits:>5} waits at {result.rate:>4g}/s  {result.processes} process"
        f"{'es' if result.processes > 1 else '  '}  {result.mode:<14}"
        f" requests/video {result.requests / result.waits:6.2f}"
        f"  refused {result.refused:>6} of {result.requests:>6}"
        f" ({100 * result.refused_share:5.1f} %)"
        f"  detection median {result.quantile(0.5):6.1f}s p95 {result.quantile(0.95):6.1f}s"
        f" (floor N/R {result.floor:5.0f}s, p95 {result.quantile(0.95) / result.floor:4.2f}x)"
        f"  in {result.wall:5.0f}s{calls}  {result.verdict()}",
        flush=True,
    )


def start_store(workdir: Path) -> Any:
    """A redis-server on a free port (the tests' helper; installed first when missing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from redis_support import RedisServer, _binary

    folder = workdir / "redis"
    folder.mkdir()
    server = RedisServer(_binary(), folder)
    server.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="(repeatable)")
    parser.add_argument("--mode", choices=MODES, action="append", help="(repeatable)")
    parser.add_argument("--min-seconds", type=float, default=10.0, help="shortest job")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="longest job")
    parser.add_argument(
        "--processes",
        type=int,
        action="append",
        help="processes sharing the key (repeatable; default 2 and 4; 1: none of these runs)",
    )
    parser.add_argument("--multi-mode", choices=MULTI_MODES, action="append", help="(repeatable)")
    parser.add_argument(
        "--multi-case", choices=sorted(CASES), default="120x4", help="case of those runs"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    workdir = Path(tempfile.mkdtemp(prefix="grokvideo-rate-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # A 429 is logged as a warning per wait: thousands of lines for the unpaced runs.
    os.environ["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = "airflow_provider_grokvideo=ERROR"
    import airflow.sdk  # noqa: F401  (configure Airflow before measuring)

    processes = [p for p in (args.processes or [2, 4]) if p > 1]
    emulator = EmulatorProcess(None, 50_000)
    print(
        f"Rate limits: N waits on one connection (one event loop) against the emulator limiting"
        f" the key to R status reads per second; jobs of {args.min_seconds:g}..{args.max_seconds:g}"
        f" s, polls 0.5..12 s; {os.cpu_count()} CPUs",
        flush=True,
    )
    store = None
    try:
        # --processes without --case: only the runs with several processes.
        for case in args.case or ([] if args.processes else list(CASES)):
            waits, rate = CASES[case]
            for mode in args.mode or MODES:
                print_run(run(emulator, waits, rate, mode, args))
        if processes:
            store = start_store(workdir)
            waits, rate = CASES[args.multi_case]
            print(
                f"Several processes sharing the key (each its own event loop, the waits split"
                f" between them): {waits} waits, the key limited to {rate:g}/s; the store a"
                f" redis-server on 127.0.0.1:{store.port}",
                flush=True,
            )
            for count in processes:
                for mode in args.multi_mode or DEFAULT_MULTI_MODES:
                    print_run(run_multi(emulator, store, waits, rate, mode, count, args))
    finally:
        emulator.stop()
        if store is not None:
            store.stop()


if __name__ == "__main__":
    main()
