"""The distributed deployment at 1,000 videos: the scenario of `make test-deploy`'s
``tests/deploy/test_distributed.py`` (CeleryExecutor on Redis and PostgreSQL, two Celery
workers and two triggerers side by side, api-server, scheduler and dag-processor apart, the
provider from its wheel) with the batch CI cannot afford in its hour.

Every job held by the emulator until the kills; one triggerer SIGKILLed once half the waits
are deferred (its peer takes over), one Celery worker once all are (restarted after 5 s); then
the jobs released (``--worker-kill submitting``: the worker killed while submits still go out
instead). ``--compare``: then the same batch again in the same deployment with every finished
wait resuming on a worker (``end_from_trigger=False``, the provider before waits ended in the
triggerer), the killed triggerer restarted and the emulator reset in between.  The waits that
end in the triggerer run first, on cold processes. Prints the figures (run time, waits deferred
at each kill, jobs per video, the limited key's 429 share, p95 time from a job's end to its
task's success, metadata rows, task starts and Execution API calls per video); asserts nothing.

``--batch``: the scenario of ``tests/deploy/test_batch_deployment.py`` instead (one xAI batch of
``--videos`` videos on a key limited to 1 request/s, result URLs living ``--url-seconds``, the
triggerer holding the batch's trigger and the worker storing its results SIGKILLed mid-way).

Run it alone on the machine (under the shared lock on a shared one):

    flock /tmp/grokvideo-heavy.lock .venv/bin/python benchmarks/deployment.py --videos 1000
    flock /tmp/grokvideo-heavy.lock .venv/bin/python benchmarks/deployment.py --compare
    flock /tmp/grokvideo-heavy.lock .venv/bin/python benchmarks/deployment.py --batch --videos 2000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from deploy.postgres import PostgresServer  # noqa: E402
from deploy.provider_venv import build_wheel, provider_venv  # noqa: E402
from deploy.redis_server import RedisServer  # noqa: E402
from deploy.scenarios import (  # noqa: E402
    DISTRIBUTED_DAG,
    ON_WORKER_DAG,
    DistributedRun,
    distributed_deployment,
    run_distributed,
)
from deploy.xai_batch_scenario import BATCH_API_DAG, XAI_RATE, run_xai_batch  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=8.0, help="the limited key's requests/s")
    parser.add_argument(
        "--job-seconds", help="jobs' length once released (20-60; with --batch 10-130)"
    )
    parser.add_argument("--batch", action="store_true", help="one xAI batch of --videos videos")
    parser.add_argument(
        "--replace-triggerer",
        action="store_true",
        help="start the killed triggerer again at once, as a process supervisor would",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="then the same batch resuming every wait on a worker, in the same deployment",
    )
    parser.add_argument(
        "--url-seconds", type=float, default=120.0, help="with --batch: a result URL's life"
    )
    parser.add_argument("--parallelism", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the logs and databases")
    parser.add_argument(
        "--worker-kill",
        choices=("deferred", "submitting"),
        default="deferred",
        help="kill the worker once every wait is deferred, or while submits still go out",
    )
    args = parser.parse_args()
    job_seconds = args.job_seconds or ("10-130" if args.batch else "20-60")
    low, high = (int(x) for x in job_seconds.split("-"))

    root = Path(tempfile.mkdtemp(prefix="grokvideo-bench-deploy-"))
    started = time.monotonic()
    wheel = build_wheel(REPO, root / "wheel")
    venv, reused = provider_venv(wheel, root)
    say(f"deploy: {wheel.name} in {venv} ({'reused' if reused else 'installed'})")
    postgres, redis = PostgresServer().start(), RedisServer().start()
    try:
        if args.batch:
            with distributed_deployment(
                say, venv, root, postgres, redis, XAI_RATE, parallelism=args.parallelism
            ) as deployment:
                deployment.wait_for_dags(BATCH_API_DAG)
                batch = run_xai_batch(deployment, args.videos, (low, high), args.url_seconds, say)
            say(f"deploy: xAI batch figures: {batch.figures()}")
            say(f"deploy: {time.monotonic() - started:.0f} s in all")
            return
        with distributed_deployment(
            say, venv, root, postgres, redis, args.rate, parallelism=args.parallelism
        ) as deployment:
            dags = (DISTRIBUTED_DAG, ON_WORKER_DAG) if args.compare else (DISTRIBUTED_DAG,)
            run: DistributedRun | None = None
            for dag in dags:
                if run is not None:  # back to two triggerers, an emulator without jobs
                    if not args.replace_triggerer:
                        deployment.restart(run.killed_triggerer)
                    deployment.reset_emulator(deployment.emulator_url)
                run = run_distributed(
                    deployment,
                    args.videos,
                    (low, high),
                    say,
                    worker_kill=args.worker_kill,
                    dag=dag,
                    replace_triggerer=args.replace_triggerer,
                )
                report(run)
        say(f"deploy: {time.monotonic() - started:.0f} s in all")
    finally:
        redis.stop()
        postgres.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def report(run: DistributedRun) -> None:
    name = "waits ending in the triggerer" if run.dag == DISTRIBUTED_DAG else "waits on a worker"
    say(f"deploy: {run.dag} ({name}): {run.figures()}")
    say(f"deploy: per video: {run.writes}; {run.calls}; {run.starts}")
    say(f"deploy: failed tasks {len(run.not_succeeded)}, jobs {run.jobs} for {run.videos} videos")


if __name__ == "__main__":
    main()
