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
floor, no failure.  Prints figures; asserts nothing.

    python benchmarks/rate_limit.py                      # 120 waits at 1 and 4/s, 1,000 at 10/s
    python benchmarks/rate_limit.py --case 120x4 --mode learned
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
TARGET_REFUSED = {"configured": 0.01, "learned": 0.10}
TARGET_P95_FLOOR = 2.0


@dataclass
class Run:
    waits: int
    rate: float
    mode: str
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
        if self.mode != "unpaced" and not self.quantile(0.95) <= TARGET_P95_FLOOR * self.floor:
            problems.append(f"p95 > {TARGET_P95_FLOOR:g}x floor")
        if self.failed:
            problems.append(f"{self.failed} not succeeded")
        if self.mode == "unpaced":
            return "(today)" + (f" {', '.join(problems)}" if problems else "")
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


def print_run(result: Run) -> None:
    print(
        f"  {result.waits:>5} waits at {result.rate:>4g}/s  {result.mode:<10}"
        f" requests/video {result.requests / result.waits:6.2f}"
        f"  refused {result.refused:>6} of {result.requests:>6}"
        f" ({100 * result.refused_share:5.1f} %)"
        f"  detection median {result.quantile(0.5):6.1f}s p95 {result.quantile(0.95):6.1f}s"
        f" (floor N/R {result.floor:5.0f}s, p95 {result.quantile(0.95) / result.floor:4.2f}x)"
        f"  in {result.wall:5.0f}s  {result.verdict()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="(repeatable)")
    parser.add_argument("--mode", choices=MODES, action="append", help="(repeatable)")
    parser.add_argument("--min-seconds", type=float, default=10.0, help="shortest job")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="longest job")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="grokvideo-rate-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # A 429 is logged as a warning per wait: thousands of lines for the unpaced runs.
    os.environ["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = "airflow_provider_grokvideo=ERROR"
    import airflow.sdk  # noqa: F401  (configure Airflow before measuring)

    emulator = EmulatorProcess(None, 50_000)
    print(
        f"Rate limits: N waits on one connection (one event loop) against the emulator limiting"
        f" the key to R status reads per second; jobs of {args.min_seconds:g}..{args.max_seconds:g}"
        f" s, polls 0.5..12 s; {os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        for case in args.case or list(CASES):
            waits, rate = CASES[case]
            for mode in args.mode or MODES:
                print_run(run(emulator, waits, rate, mode, args))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
