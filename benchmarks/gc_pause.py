"""What one full garbage collection costs a triggerer holding many idle waits.

The worst event-loop lag of a triggerer with thousands of waits is CPython's full (generation
2) collection, which stops the loop while it walks every live object.  This script starts N
waits in one event loop against the emulator (its own process), lets them all fall asleep, and
times ``gc.collect()`` (median of five) for:

* ``asyncio tasks``: N bare tasks, each in ``asyncio.sleep``: the floor any asyncio triggerer
  pays;
* ``one read, then asleep``: N tasks that each made one status read through the hook's shared
  client and then sleep, keeping nothing of it;
* ``one read, kept``: the same, keeping the ``VideoGeneration`` read;
* ``GrokVideoTrigger``: N of our triggers, each asleep after its first poll.

It first times a full collection of the start-up heap alone (Airflow, its triggerer and the
provider imported, no waits), which Airflow's triggerer does not freeze; then freezes it
(``gc.freeze()``, as ``triggerer_load.py`` does) so that the figures of the waits are their
own.  Prints figures; asserts nothing.

    python benchmarks/gc_pause.py               # 10,000 waits, about a minute
    python benchmarks/gc_pause.py --waits 2000
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from triggerer_load import EmulatorProcess, set_connections, submit_jobs

CONN_ID = "bench_grokvideo_plain"
ASLEEP = 300.0  # seconds every wait sleeps: far longer than the measurement


def full_collection(label: str, waits: int | None = None, baseline: int = 0) -> None:
    """Print what the collector walks and what one full collection costs (median of 5)."""
    objects = gc.get_objects()
    references = sum(len(gc.get_referents(o)) for o in objects)
    count = len(objects)
    del objects
    pauses = []
    for _ in range(5):
        started = time.perf_counter()
        gc.collect()
        pauses.append(1000 * (time.perf_counter() - started))
    per_wait = f"{(count - baseline) / waits:5.1f} objects per wait" if waits else ""
    print(
        f"  {label:<24} {per_wait:<22}  {count:>8} objects  {references:>9} references  "
        f"full collection {statistics.median(pauses):6.1f} ms "
        f"(min {min(pauses):.1f}, max {max(pauses):.1f})"
    )
    sys.stdout.flush()


async def measure(
    label: str, ids: list[str], wait: Callable[[str], Awaitable[object]], settle: float
) -> None:
    gc.collect()
    baseline = len(gc.get_objects())
    tasks = []
    for index, generation_id in enumerate(ids):
        tasks.append(asyncio.create_task(wait(generation_id)))
        if index % 500 == 499:
            await asyncio.sleep(0.05)  # as a triggerer picks them up: a batch at a time
    await asyncio.sleep(settle)
    full_collection(label, len(ids), baseline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def waiters() -> dict[str, Callable[[str], Awaitable[None]]]:
    """The scenarios, in the order they run: a name and what each of the N waits runs."""
    from airflow_provider_grokvideo.hooks import shared_video_hook
    from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

    async def bare(generation_id: str) -> None:
        await asyncio.sleep(ASLEEP)

    async def one_read(generation_id: str, keep: bool = False) -> None:
        hook = await shared_video_hook(CONN_ID)
        async with hook.async_session():
            generation = await hook.aget_video(generation_id, retry=False)
            if not keep:
                del generation
            await asyncio.sleep(ASLEEP)

    async def trigger(generation_id: str) -> None:
        waiting = GrokVideoTrigger(
            conn_id=CONN_ID,
            generation_id=generation_id,
            deadline=time.time() + 3600,
            poll_interval=ASLEEP,
            min_poll_interval=ASLEEP,
            max_poll_interval=ASLEEP,
        )
        async for _ in waiting.run():
            return

    return {
        "asyncio tasks": bare,
        "one read, then asleep": one_read,
        "one read, kept": functools.partial(one_read, keep=True),
        "GrokVideoTrigger": trigger,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=10_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="grokvideo-gc-"))
    os.environ.setdefault("AIRFLOW_HOME", str(workdir / "airflow"))
    os.environ["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = "airflow_provider_grokvideo=WARNING"
    emulator = EmulatorProcess(None, max(50_000, 2 * args.waits))
    try:
        set_connections({"plain": emulator})
        import airflow.sdk  # configures Airflow before anything is measured

        ids = asyncio.run(submit_jobs(emulator.url, [10 * ASLEEP] * args.waits))
        print(
            f"Full garbage collection with {args.waits} idle waits in one loop "
            f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
        )
        # What a triggerer process holds before it runs any trigger: Airflow, the triggerer
        # itself and the provider with its HTTP stack.  Airflow's triggerer does not freeze
        # it, so each of its full collections walks all of it, whatever the triggers hold.
        import airflow.jobs.triggerer_job_runner  # noqa: F401

        from airflow_provider_grokvideo.hooks import aget_video_hook  # noqa: F401  (warm up)

        full_collection("start-up heap, no waits")
        gc.freeze()
        print("  (frozen from here on: the figures below are the waits' own)")
        # Each scenario in a loop of its own: nothing of the previous one (its cancelled
        # timers, its pooled client) is left in the heap.  With the first poll's jitter (at
        # most 1 s) and the reads, every wait is asleep after 8 s.
        for name, wait in waiters().items():
            settle = 1.0 if name == "asyncio tasks" else 8.0
            asyncio.run(measure(name, ids, wait, settle))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
