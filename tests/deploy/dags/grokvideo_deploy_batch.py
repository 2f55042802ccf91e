"""The deployment tests' batches: one video per map index over the three upstreams, half as
generate + ``GrokVideoSensor``, half as one generate task that waits itself, no retries on
any wait, and a ``report`` that counts what came back.

* ``grokvideo_deploy_batch``: no retries anywhere (the LocalExecutor and SQLite scenarios);
* ``grokvideo_deploy_distributed``: as docs/production.md advises for a CeleryExecutor deployment,
  each generate task through its upstream's pool (``grokvideo_<upstream>``, created by the
  test) and with ``retries`` (safe: the durable submit); the waits still without retries;
* ``grokvideo_deploy_distributed_on_worker``: the same with ``end_from_trigger=False``: every
  finished wait resumes on a worker, as before the waits ended in the triggerer (the "before"
  of ``benchmarks/deployment.py --compare``).

The run's ``conf`` sets the batch: ``videos`` (default 300) and the emulated jobs' length,
spread between ``min_seconds`` and ``max_seconds`` by the ``[emulator:seconds=N]`` marker.
The one-task wait's id is in its ``grokvideo`` XCom record as soon as it is submitted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

UPSTREAMS = ("xcompute", "mountsea", "xai")
BRANCHES = ("sensor", "one_task")
#: Poll settings of every wait: the emulated jobs last seconds, not minutes.
POLL = {"poll_interval": 5.0, "min_poll_interval": 2.0, "max_poll_interval": 10.0}
WAIT_TIMEOUT = 1800.0

#: The one-task wait: the generate task waits in the triggerer for its own video.
ONE_TASK = {"wait_for_completion": True, "deferrable": True, "timeout": WAIT_TIMEOUT, **POLL}


def batch(
    dag_id: str,
    *,
    pools: bool = False,
    generate_retries: int = 0,
    end_from_trigger: bool | None = None,
) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_tasks=2048,
        params={"videos": 300, "min_seconds": 5, "max_seconds": 60},
        tags=["grokvideo", "deploy-test"],
    ) as dag:

        @task
        def plan(upstream: str, branch: str, params: dict[str, Any] | None = None) -> list[str]:
            """The prompts of one upstream's share of one branch (video k: branch k % 2,
            upstream (k // 2) % 3), each job lasting between min_seconds and max_seconds."""
            conf = params or {}
            videos = int(conf.get("videos", 300))
            low, high = int(conf.get("min_seconds", 5)), int(conf.get("max_seconds", 60))
            prompts = []
            for k in range(videos):
                if BRANCHES[k % 2] != branch or UPSTREAMS[(k // 2) % 3] != upstream:
                    continue
                seconds = low + (k * 7919) % (high - low + 1)  # spread, not ordered by k
                prompts.append(f"deploy test video {k} [emulator:seconds={seconds}]")
            return prompts

        outputs = []
        for upstream in UPSTREAMS:
            conn_id = f"grokvideo_{upstream}_default"
            submit: dict[str, Any] = {"conn_id": conn_id, "duration": 6}
            if pools:
                submit["pool"] = f"grokvideo_{upstream}"
            if generate_retries:
                submit.update(retries=generate_retries, retry_delay=timedelta(seconds=5))
            else:
                submit["retries"] = 0
            generate = GrokVideoGenerateOperator.partial(
                task_id=f"generate_{upstream}", **submit
            ).expand(prompt=plan.override(task_id=f"plan_sensor_{upstream}")(upstream, "sensor"))
            wait = GrokVideoSensor.partial(
                task_id=f"wait_{upstream}",
                conn_id=conn_id,
                timeout=WAIT_TIMEOUT,
                retries=0,
                end_from_trigger=end_from_trigger,
                **POLL,
            ).expand(generation_id=generate.output)
            outputs.append(wait.output)
            # The one-task wait defers in the same task: no retries, as any wait here.
            one_task = GrokVideoGenerateOperator.partial(
                task_id=f"generate_and_wait_{upstream}",
                **{**submit, "retries": 0},
                **ONE_TASK,
                end_from_trigger=end_from_trigger,
            ).expand(
                prompt=plan.override(task_id=f"plan_one_task_{upstream}")(upstream, "one_task")
            )
            outputs.append(one_task.output)

        @task
        def report(results: list[Any]) -> dict[str, Any]:
            """What came back: videos, distinct generation ids, succeeded."""
            videos = [video for branch in results for video in branch]
            return {
                "videos": len(videos),
                "generation_ids": len({video["generation_id"] for video in videos}),
                "succeeded": sum(video.get("status") == "succeeded" for video in videos),
            }

        report(outputs)
    return dag


batch_dag = batch("grokvideo_deploy_batch")
distributed_dag = batch("grokvideo_deploy_distributed", pools=True, generate_retries=2)
on_worker_dag = batch(
    "grokvideo_deploy_distributed_on_worker", pools=True, generate_retries=2, end_from_trigger=False
)
