"""Many concurrent GrokVideoTriggers in one event loop, as in a busy triggerer.

The emulator runs in a separate process (its CPU is not counted), once over plain HTTP and
once over TLS (a throw-away CA and certificate made with ``trustme``; the client trusts it
through ``SSL_CERT_FILE``).  Jobs finish at spread-out times (``[emulator:seconds=N]`` markers,
10..60 s by default).  For each scenario the benchmark prints: CPU per poll, polls per video,
peak RSS and RSS per trigger, the worst event-loop lag (a ticker measuring its oversleep),
connections the emulator saw opened, errors, and the detection delay (event time minus the
job's completion time; median and p95).

Scenarios, each with fresh jobs:

* ``ours``: our trigger with its adaptive poll spacing, over HTTP and over TLS (``--triggers``);
* ``ours-fixed``: our trigger polling at a fixed interval chosen so that its p95 detection
  delay equals the adaptive one's (``--compare-triggers`` waits, over TLS);
* ``http-provider``: the generic alternative, the HTTP provider's trigger pattern: a new
  ``aiohttp.ClientSession`` per poll through ``HttpAsyncHook`` (as ``HttpSensorTrigger`` does),
  at the same fixed interval, same waits, over TLS.

and then ratios: CPU per poll of ours over the alternative's (TLS, same load), and polls per
video of the adaptive spacing over fixed-interval polling at the same p95 detection delay.
Prints figures; asserts nothing.

Each scenario runs in a fresh interpreter (its CPU and memory are its own), with the start-up
heap (Airflow and its imports) frozen out of the garbage collector's reach (``gc.freeze()``):
otherwise every full collection of that heap alone pauses the loop ~80-100 ms, whatever the
triggers do.  Job lengths are ten times shorter than real videos (and poll intervals ten times
shorter than the trigger's defaults), so the poll rate is ten times a real triggerer's;
``--time-scale`` stretches both.

    python benchmarks/triggerer_load.py                 # 1,000 waits (a few minutes)
    python benchmarks/triggerer_load.py --quick         # 300 waits, short jobs
    python benchmarks/triggerer_load.py --triggers 10000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

API_KEY = "bench-key-0123456789"
TERMINAL_XCOMPUTE = ("completed", "failed", "cancelled")
LAG_TICK = 0.05


# --------------------------------------------------------------------------------------------
# Set-up: certificates, emulator processes, connections
# --------------------------------------------------------------------------------------------


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (``trustme``)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (directory / name for name in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    return ca_file, cert_file, key_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorProcess:
    """``python -m airflow_provider_grokvideo.emulator`` in a subprocess."""

    def __init__(self, tls: tuple[Path, Path] | None, max_jobs: int) -> None:
        self.port = free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "airflow_provider_grokvideo.emulator",
            "--port",
            str(self.port),
            "--api-key",
            API_KEY,
            "--job-seconds",
            "30",
            "--log-level",
            "warning",
            "--max-jobs",
            str(max_jobs),
        ]
        if tls:
            command += ["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        self._wait_ready()

    def _client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=60)

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {self.process.returncode}")
            try:
                with self._client() as client:
                    if client.get("/_emulator/health").status_code == 200:
                        return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def stats(self) -> dict[str, Any]:
        with self._client() as client:
            return dict(client.get("/_emulator/stats").json())

    def reset(self) -> None:
        with self._client() as client:
            client.post("/_emulator/reset").raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def set_connections(
    emulators: dict[str, EmulatorProcess], extra: dict[str, Any] | None = None
) -> None:
    """``AIRFLOW_CONN_*`` env vars: ours (``grokvideo_xcompute``, with ``extra``) and the HTTP
    provider's."""
    for name, emulator in emulators.items():
        os.environ[f"AIRFLOW_CONN_BENCH_GROKVIDEO_{name.upper()}"] = json.dumps(
            {
                "conn_type": "grokvideo_xcompute",
                "host": f"{emulator.url}/xcompute",
                "password": API_KEY,
                "extra": extra or {},
            }
        )
        os.environ[f"AIRFLOW_CONN_BENCH_HTTP_{name.upper()}"] = json.dumps(
            {"conn_type": "http", "host": emulator.url}
        )


# --------------------------------------------------------------------------------------------
# Jobs: submitted and inspected outside the measured window
# --------------------------------------------------------------------------------------------


async def _gather_limited(calls: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(run(call) for call in calls))


async def submit_jobs(url: str, seconds: list[float]) -> list[str]:
    import aiohttp

    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        def call(duration: float) -> Callable[[], Awaitable[str]]:
            async def submit() -> str:
                body = {
                    "model": "grok-imagine-1.0-video-apimart",
                    "prompt": f"benchmark video [emulator:seconds={duration:.2f}]",
                }
                async with session.post(f"{url}/xcompute/v1/videos/generations", json=body) as r:
                    r.raise_for_status()
                    answer = await r.json()
                return str(answer["data"]["id"])

            return submit

        return await _gather_limited([call(s) for s in seconds], 64)


async def job_ends(url: str, ids: list[str]) -> dict[str, float]:
    import aiohttp

    async with aiohttp.ClientSession() as session:

        def call(job_id: str) -> Callable[[], Awaitable[tuple[str, float]]]:
            async def read() -> tuple[str, float]:
                async with session.get(f"{url}/_emulator/jobs/{job_id}") as response:
                    return job_id, float((await response.json())["ends"])

            return read

        return dict(await _gather_limited([call(i) for i in ids], 64))


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    transport: str
    waits: int
    interval: str
    polls: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    base_rss: int = 0
    peak_rss: int = 0
    worst_lag: float = 0.0
    lag_p99: float = 0.0
    worst_lag_steady: float = 0.0
    worst_lag_outside_full_gc: float = 0.0
    full_gcs: int = 0
    worst_gc_pause: float = 0.0
    gc_collections: int = 0
    connections_opened: int = 0
    errors: int = 0
    server_status_reads: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def cpu_per_poll_us(self) -> float:
        return 1e6 * self.cpu_seconds / self.polls if self.polls else float("nan")

    @property
    def polls_per_video(self) -> float:
        return self.polls / self.waits if self.waits else float("nan")

    @property
    def rss_per_trigger_kb(self) -> float:
        return (self.peak_rss - self.base_rss) / 1024 / self.waits if self.waits else float("nan")

    def delay(self, quantile: float) -> float:
        if not self.delays:
            return float("nan")
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


class LoopWatch:
    """A ticker measuring event-loop lag (oversleep), and peak RSS."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.lags: list[float] = []
        self.times: list[float] = []
        self.peak_rss = 0
        self.gc_pauses: list[float] = []
        #: (start, end) of every full (generation 2) collection.
        self.full_gcs: list[tuple[float, float]] = []
        self.debug = bool(os.environ.get("GROKVIDEO_BENCH_DEBUG"))
        self.started = 0.0
        self._gc_started = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.started = time.perf_counter()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            ended = time.perf_counter()
            self.gc_pauses.append(ended - self._gc_started)
            if info["generation"] == 2:
                self.full_gcs.append((self._gc_started, ended))
            if self.debug and self.gc_pauses[-1] > 0.02:
                # No count of live objects here: gc.get_objects() would itself stall the loop
                # for tens of milliseconds, counted as lag outside the collection.
                print(
                    f"{ended - self.started:6.1f}s gc gen{info['generation']} "
                    f"{1000 * self.gc_pauses[-1]:.0f} ms collected={info['collected']}",
                    file=sys.stderr,
                )

    async def _run(self) -> None:
        ticks = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            self.lags.append(max(0.0, time.perf_counter() - started - LAG_TICK))
            self.times.append(started)
            if self.debug and self.lags[-1] > 0.05:
                at = started - self.started
                print(f"{at:6.1f}s loop lag {1000 * self.lags[-1]:.0f} ms", file=sys.stderr)
            ticks += 1
            if ticks % 10 == 0:
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        gc.callbacks.remove(self._on_gc)
        self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)


Waiter = Callable[[str], Awaitable[tuple[str, float, int]]]


def ours_waiter(
    conn_id: str, deadline: float, poll_interval: float, min_poll: float, max_poll: float
) -> Waiter:
    from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

    async def wait(generation_id: str) -> tuple[str, float, int]:
        trigger = GrokVideoTrigger(
            conn_id=conn_id,
            generation_id=generation_id,
            deadline=deadline,
            poll_interval=poll_interval,
            min_poll_interval=min_poll,
            max_poll_interval=max_poll,
        )
        status = "none"
        async for event in trigger.run():
            status = event.payload["status"]
        return status, time.time(), trigger.polls

    return wait


def http_provider_waiter(conn_id: str, deadline: float, interval: float, raw: bool) -> Waiter:
    """The HTTP provider's trigger pattern: a new aiohttp session for every poll."""
    import aiohttp
    from airflow.providers.http.hooks.http import HttpAsyncHook

    headers = {"Authorization": f"Bearer {API_KEY}"}

    async def wait(generation_id: str) -> tuple[str, float, int]:
        hook = HttpAsyncHook(method="GET", http_conn_id=conn_id)
        base = (await hook.config()).base_url if raw else ""
        endpoint = f"xcompute/v1/tasks/{generation_id}"
        polls = 0
        while True:
            polls += 1
            try:
                async with aiohttp.ClientSession() as session:
                    if raw:
                        async with session.get(f"{base}/{endpoint}", headers=headers) as response:
                            response.raise_for_status()
                            body = await response.json()
                    else:
                        response = await hook.run(
                            session=session, endpoint=endpoint, headers=headers
                        )
                        body = await response.json()
                status = body["data"]["status"]
                if status in TERMINAL_XCOMPUTE:
                    return ("succeeded" if status == "completed" else status), time.time(), polls
            except Exception:
                pass  # weather: poll again at the next interval, as a sensor would
            if time.time() >= deadline:
                return "timeout", time.time(), polls
            await asyncio.sleep(interval)

    return wait


async def measure(
    result: Result,
    ids: list[str],
    waiter: Waiter,
    ramp_per_second: float,
    freeze_gc: bool,
    gc_threshold: str | None = None,
) -> dict[str, tuple[str, float, int]]:
    """Run one waiter per id concurrently (started at ``ramp_per_second``), measured."""
    # Warm up imports and the connection lookup path outside the measured window.
    import httpx_aiohttp  # noqa: F401

    from airflow_provider_grokvideo.hooks import aget_video_hook  # noqa: F401

    if os.environ.get("AIRFLOW_CONN_BENCH_BUDGET_STORE"):
        import redis.asyncio  # noqa: F401  (the shared budget's client, --budget-store)

    gc.collect()
    if freeze_gc:
        # Move what start-up allocated (Airflow and its imports, ~1M objects) out of the
        # collector's reach: a full collection of that heap alone pauses the loop ~80-100 ms,
        # whatever the triggers do.  Standard tuning for a long-lived Airflow process (its DAG
        # processor does the same); --no-gc-freeze shows the figures without it.
        gc.freeze()
    if gc_threshold:
        gc.set_threshold(*(int(v) for v in gc_threshold.split(",")))
    watch = LoopWatch()
    result.base_rss = watch.process.memory_info().rss
    watch.start()
    cpu_before = watch.process.cpu_times()
    started = time.perf_counter()
    outcomes: dict[str, tuple[str, float, int]] = {}

    async def one(generation_id: str) -> None:
        try:
            outcomes[generation_id] = await waiter(generation_id)
        except Exception as exc:
            outcomes[generation_id] = (f"exception: {exc!r}", time.time(), 0)

    tasks = []
    batch = max(1, int(ramp_per_second * LAG_TICK))
    for index, generation_id in enumerate(ids):
        tasks.append(asyncio.create_task(one(generation_id)))
        if (index + 1) % batch == 0:
            await asyncio.sleep(LAG_TICK)
    all_started = time.perf_counter()
    if watch.debug:
        print(f"{all_started - watch.started:6.1f}s all {len(ids)} started", file=sys.stderr)
    await asyncio.gather(*tasks)

    result.wall_seconds = time.perf_counter() - started
    cpu_after = watch.process.cpu_times()
    await watch.stop()
    result.cpu_seconds = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    result.peak_rss = watch.peak_rss
    result.worst_gc_pause = max(watch.gc_pauses, default=0.0)
    result.gc_collections = len(watch.gc_pauses)
    result.worst_lag = max(watch.lags, default=0.0)
    # Once every trigger has started and made its first poll (a start-up burst is over).
    steady_from = all_started + 2.0
    result.worst_lag_steady = max(
        (lag for at, lag in zip(watch.times, watch.lags, strict=True) if at >= steady_from),
        default=0.0,
    )
    # The same, leaving out the ticks that a full collection overlapped: what the polling itself
    # costs the loop, apart from the interpreter's collector walking every live object.
    result.full_gcs = len(watch.full_gcs)
    result.worst_lag_outside_full_gc = max(
        (
            lag
            for at, lag in zip(watch.times, watch.lags, strict=True)
            if not any(start < at + LAG_TICK + lag and end > at for start, end in watch.full_gcs)
        ),
        default=0.0,
    )
    result.lag_p99 = statistics.quantiles(watch.lags, n=100)[98] if len(watch.lags) > 2 else 0.0
    return outcomes


@dataclass
class Settings:
    triggers: int
    compare_triggers: int
    min_seconds: float
    max_seconds: float
    poll_interval: float
    min_poll: float
    max_poll: float
    ramp: float
    alt_raw: bool
    plain_comparison: bool
    gc_freeze: bool
    gc_threshold: str | None


def run_scenario(
    emulator: EmulatorProcess,
    transport: str,
    name: str,
    waits: int,
    settings: Settings,
    fixed: float | None = None,
) -> Result:
    """One scenario in a fresh interpreter, so that its CPU and memory are its own."""
    emulator.reset()
    spec = {
        "url": emulator.url,
        "transport": transport,
        "name": name,
        "waits": waits,
        "fixed": fixed,
        "settings": asdict(settings),
    }
    child = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return Result(**json.loads(child.stdout.strip().splitlines()[-1]))


def emulator_stats(url: str) -> dict[str, Any]:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:
        return dict(client.get("/_emulator/stats").json())


def child(spec: dict[str, Any]) -> None:
    """The measured side of one scenario: submit, wait (measured), read completion times."""
    settings = Settings(**spec["settings"])
    name, transport, waits, fixed = spec["name"], spec["transport"], spec["waits"], spec["fixed"]
    url = spec["url"]
    import airflow.sdk  # noqa: F401  (configure Airflow before measuring)

    rng = random.Random(waits * 7919 + len(name))
    seconds = [rng.uniform(settings.min_seconds, settings.max_seconds) for _ in range(waits)]
    ids = asyncio.run(submit_jobs(url, seconds))
    deadline = time.time() + settings.max_seconds * 3 + 60
    conn = f"bench_grokvideo_{transport}" if name.startswith("ours") else f"bench_http_{transport}"
    waiter: Waiter
    if name == "ours":
        waiter = ours_waiter(
            conn, deadline, settings.poll_interval, settings.min_poll, settings.max_poll
        )
        interval = f"adaptive {settings.min_poll:g}..{settings.max_poll:g}s"
    elif name == "ours-fixed":
        waiter = ours_waiter(conn, deadline, fixed, fixed, fixed)
        interval = f"fixed {fixed:.2f}s"
    else:
        waiter = http_provider_waiter(conn, deadline, fixed, settings.alt_raw)
        interval = f"fixed {fixed:.2f}s"
    result = Result(name=name, transport=transport, waits=waits, interval=interval)
    before = emulator_stats(url)
    measured = measure(
        result, ids, waiter, settings.ramp, settings.gc_freeze, settings.gc_threshold
    )
    profile_to = os.environ.get("GROKVIDEO_BENCH_PROFILE")
    if profile_to:  # where the CPU goes (slows the run: its figures are not comparable)
        import cProfile

        with cProfile.Profile() as profiler:
            outcomes = asyncio.run(measured)
        profiler.dump_stats(f"{profile_to}.{name}.{transport}")
    else:
        outcomes = asyncio.run(measured)
    after = emulator_stats(url)
    result.connections_opened = after["connections_opened"] - before["connections_opened"]
    result.server_status_reads = (
        after["upstreams"]["xcompute"]["status_reads"]
        - before["upstreams"]["xcompute"]["status_reads"]
    )
    ends = asyncio.run(job_ends(url, ids))
    for generation_id in ids:
        status, at, polls = outcomes.get(generation_id, ("missing", 0.0, 0))
        result.polls += polls
        if status == "succeeded":
            result.delays.append(at - ends[generation_id])
        else:
            result.errors += 1
    sys.stdout.write("\n" + json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def print_result(result: Result) -> None:
    print(
        f"  {result.name:<14} {result.transport:<5} {result.waits:>6} waits  {result.interval:<22}"
        f" polls/video {result.polls_per_video:6.2f}  CPU/poll {result.cpu_per_poll_us:7.0f} µs"
        f"  CPU {result.cpu_seconds:6.1f}s in {result.wall_seconds:5.1f}s"
    )
    print(
        f"  {'':<14} {'':<5} {'':>6}        peak RSS {result.peak_rss / 2**20:6.1f} MB"
        f" ({result.rss_per_trigger_kb:5.1f} KB/trigger)  worst loop lag "
        f"{1000 * result.worst_lag:6.1f} ms (p99 {1000 * result.lag_p99:5.1f} ms, after start-up "
        f"{1000 * result.worst_lag_steady:5.1f} ms, outside the {result.full_gcs} full "
        f"collections {1000 * result.worst_lag_outside_full_gc:5.1f} ms; worst GC pause "
        f"{1000 * result.worst_gc_pause:5.1f} ms of {result.gc_collections})"
        f"  connections {result.connections_opened:>6}  errors {result.errors}"
        f"  detection median {result.delay(0.5):5.2f}s p95 {result.delay(0.95):5.2f}s"
    )
    sys.stdout.flush()


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=1000, help="concurrent waits (ours)")
    parser.add_argument(
        "--compare-triggers",
        type=int,
        default=None,
        help="concurrent waits of the fixed-interval comparisons (default: min(triggers, 300):"
        " fixed polling as prompt as ours would saturate 2 cores beyond that)",
    )
    parser.add_argument("--min-seconds", type=float, default=10.0, help="shortest job")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="longest job")
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--min-poll-interval", type=float, default=0.5)
    parser.add_argument("--max-poll-interval", type=float, default=12.0)
    parser.add_argument(
        "--ramp",
        type=float,
        default=1000.0,
        help="triggers started per second (a triggerer"
        " picks up deferred tasks as they come, not all in one instant)",
    )
    parser.add_argument(
        "--alt",
        choices=("hook", "raw"),
        default="hook",
        help="generic alternative: the HTTP provider's HttpAsyncHook with a new session per poll"
        " (default), or bare aiohttp with a new session per poll",
    )
    parser.add_argument(
        "--plain-comparison",
        action="store_true",
        help="also run the fixed-interval comparisons over plain HTTP",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply job lengths and poll intervals (2: jobs of 20..120 s polled half as"
        " often; real videos take minutes, so a triggerer's real poll rate is lower still)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="do not gc.freeze() the start-up heap before measuring",
    )
    parser.add_argument(
        "--gc-threshold",
        metavar="T0,T1,T2",
        help="gc.set_threshold() of the measured process, e.g. 20000,20,20 (default: Python's)"
        "; GROKVIDEO_BENCH_DEBUG=1 prints, with their time, every collection over 20 ms and"
        " every loop lag over 50 ms",
    )
    parser.add_argument("--quick", action="store_true", help="300 waits, jobs of 5..20 s")
    parser.add_argument(
        "--no-compare", action="store_true", help="run only our adaptive trigger (HTTP and TLS)"
    )
    parser.add_argument(
        "--transport",
        choices=("plain", "tls"),
        action="append",
        help="run our adaptive trigger over this transport only (repeatable; default both)",
    )
    parser.add_argument(
        "--budget-store",
        action="store_true",
        help="our connection shares its request budget in a redis-server started here"
        " (the extra redis_conn_id): what the shared limiter costs a triggerer",
    )
    parser.add_argument(
        "--requests-per-second",
        type=float,
        help="our connection's configured budget (default: none, learned from 429s)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.quick:
        args.triggers = min(args.triggers, 300)
        args.min_seconds, args.max_seconds = 5.0, 20.0
        args.poll_interval, args.min_poll_interval, args.max_poll_interval = 1.0, 0.25, 5.0
    scale = args.time_scale
    settings = Settings(
        triggers=args.triggers,
        compare_triggers=args.compare_triggers or min(args.triggers, 300),
        min_seconds=args.min_seconds * scale,
        max_seconds=args.max_seconds * scale,
        poll_interval=args.poll_interval * scale,
        min_poll=args.min_poll_interval * scale,
        max_poll=args.max_poll_interval * scale,
        ramp=args.ramp,
        alt_raw=args.alt == "raw",
        plain_comparison=args.plain_comparison,
        gc_freeze=not args.no_gc_freeze,
        gc_threshold=args.gc_threshold,
    )

    workdir = Path(tempfile.mkdtemp(prefix="grokvideo-bench-"))
    ca_file, cert_file, key_file = make_certificates(workdir)
    # Before aiohttp or httpx build their default SSL contexts: trust the throw-away CA.
    os.environ["SSL_CERT_FILE"] = str(ca_file)
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Our trigger logs each status change at INFO; the alternative logs nothing.  Compare the
    # polling, not the logging.
    os.environ["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = "airflow_provider_grokvideo=WARNING"

    max_jobs = max(50_000, 4 * settings.triggers)
    emulators = {
        "plain": EmulatorProcess(None, max_jobs),
        "tls": EmulatorProcess((cert_file, key_file), max_jobs),
    }
    extra: dict[str, Any] = {}
    store = None
    if args.requests_per_second:
        extra["requests_per_second"] = args.requests_per_second
    if args.budget_store:
        # The tests' helper: redis-server on a free port of 127.0.0.1 (installed when missing).
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from redis_support import RedisServer, _binary

        (workdir / "redis").mkdir()
        store = RedisServer(_binary(), workdir / "redis")
        store.start()
        os.environ["AIRFLOW_CONN_BENCH_BUDGET_STORE"] = store.airflow_connection()
        extra["redis_conn_id"] = "bench_budget_store"
    set_connections(emulators, extra)
    print(
        f"Triggerer load: {settings.triggers} concurrent waits in one event loop, jobs of "
        f"{settings.min_seconds:g}..{settings.max_seconds:g} s; emulator in its own process; "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"  ours: poll_interval={settings.poll_interval:g}s min={settings.min_poll:g}s "
        f"max={settings.max_poll:g}s; started at {settings.ramp:g}/s; "
        f"start-up heap {'frozen (gc.freeze)' if settings.gc_freeze else 'not frozen'}"
        + (f"; connection extra {json.dumps(extra)}" if extra else "")
    )
    results: dict[tuple[str, str], Result] = {}
    try:
        for transport in args.transport or ("plain", "tls"):
            result = run_scenario(
                emulators[transport], transport, "ours", settings.triggers, settings
            )
            results[("ours", transport)] = result
            print_result(result)

        transports: tuple[str, ...] = ("tls", "plain") if settings.plain_comparison else ("tls",)
        if args.no_compare:
            transports = ()
        for transport in transports:
            # Fixed polling with the same p95 detection delay: delays are uniform over one
            # interval, so p95 = 0.95 * interval.
            p95 = results[("ours", transport)].delay(0.95)
            interval = max(0.1, p95 / 0.95)
            for name in ("ours-fixed", "http-provider"):
                result = run_scenario(
                    emulators[transport],
                    transport,
                    name,
                    settings.compare_triggers,
                    settings,
                    fixed=interval,
                )
                results[(name, transport)] = result
                print_result(result)
    finally:
        for emulator in emulators.values():
            emulator.stop()
        if store is not None:
            store.stop()

    print()
    alt_name = "bare aiohttp" if settings.alt_raw else "HttpAsyncHook"
    print(f"Ratios (the generic alternative: {alt_name}, a new aiohttp session per poll)")
    for transport in transports:
        ours = results[("ours", transport)]
        fixed = results[("ours-fixed", transport)]
        alt = results[("http-provider", transport)]
        print(
            f"  {transport}: CPU per poll, ours at fixed interval / alternative, same load: "
            f"{ratio(fixed.cpu_per_poll_us, alt.cpu_per_poll_us)}  "
            f"({fixed.cpu_per_poll_us:.0f} vs {alt.cpu_per_poll_us:.0f} µs)"
        )
        print(
            f"  {transport}: CPU per poll, ours adaptive ({ours.waits} waits) / alternative: "
            f"{ratio(ours.cpu_per_poll_us, alt.cpu_per_poll_us)}"
        )
        # Scale the fixed run's polls to exactly the adaptive p95 (polls ~ 1 / interval ~ 1/p95).
        scaled = fixed.polls_per_video * fixed.delay(0.95) / ours.delay(0.95)
        print(
            f"  {transport}: polls per video, adaptive / fixed interval at the same p95 "
            f"detection delay: {ratio(ours.polls_per_video, fixed.polls_per_video)} "
            f"({ours.polls_per_video:.1f} vs {fixed.polls_per_video:.1f}; p95 "
            f"{ours.delay(0.95):.2f}s vs {fixed.delay(0.95):.2f}s; scaled to equal p95: "
            f"{ratio(ours.polls_per_video, scaled)})"
        )
        print(
            f"  {transport}: polls per video, adaptive / the alternative at that interval: "
            f"{ratio(ours.polls_per_video, alt.polls_per_video)}"
        )
    for transport in args.transport or ("plain", "tls"):
        ours = results[("ours", transport)]
        print(
            f"  {transport}: {ours.waits} waits: errors {ours.errors}, worst loop lag "
            f"{1000 * ours.worst_lag:.0f} ms "
            f"({1000 * ours.worst_lag_outside_full_gc:.0f} ms outside full collections, "
            f"whose worst took {1000 * ours.worst_gc_pause:.0f} ms), "
            f"{ours.connections_opened} connections opened for "
            f"{ours.polls} polls"
        )


if __name__ == "__main__":
    main()
