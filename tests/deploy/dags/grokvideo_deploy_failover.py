"""The deployment test's failover batch: every video asked of xAI first, with APIMart (an
xcompute connection whose host honors Idempotency-Key) and then Mountsea as fallbacks.

The first ``before`` videos are submitted while xAI is up.  The rest wait for a gate (the
Airflow Variable ``grokvideo_failover_gate``), which the test opens once it has put xAI down
(its port refuses connections) and made APIMart lose some submit answers after creating the
job: every video must still be made once, with no retry and no human step.  In each group,
half the videos are waited by a ``GrokVideoSensor`` given xAI's connection (it must follow
the generate task's record to the connection that made the video), half by the generate task
itself.  No retries anywhere.  ``conf``: ``videos``, ``before``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

XAI, APIMART, MOUNTSEA = (
    "grokvideo_failover_xai",
    "grokvideo_failover_apimart",
    "grokvideo_failover_mountsea",
)
GATE = "grokvideo_failover_gate"
POLL = {"poll_interval": 5.0, "min_poll_interval": 2.0, "max_poll_interval": 10.0}
TIMEOUT = 1800.0
FAILOVER = {"conn_id": XAI, "fallback_conn_ids": [APIMART, MOUNTSEA], "duration": 6}


def _prompts(params: dict[str, Any] | None, group: str, branch: int) -> list[str]:
    conf = params or {}
    videos, before = int(conf.get("videos", 40)), int(conf.get("before", 10))
    numbers = range(before) if group == "before" else range(before, videos)
    return [f"failover video {k} [emulator:seconds=5]" for k in numbers if k % 2 == branch]


with DAG(
    dag_id="grokvideo_deploy_failover",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_tasks=2048,
    params={"videos": 40, "before": 10},
    tags=["grokvideo", "deploy-test"],
) as dag:

    @task.sensor(poke_interval=2, timeout=TIMEOUT, mode="reschedule")
    def gate() -> bool:
        from airflow.sdk import Variable

        return Variable.get(GATE, default="closed") == "open"

    opened = gate()
    for group in ("before", "after"):

        @task(task_id=f"prompts_{group}_sensor")
        def sensor_prompts(group: str = group, params: dict[str, Any] | None = None) -> list[str]:
            return _prompts(params, group, 0)

        @task(task_id=f"prompts_{group}_one_task")
        def one_task_prompts(group: str = group, params: dict[str, Any] | None = None) -> list[str]:
            return _prompts(params, group, 1)

        for_sensor, for_one_task = sensor_prompts(), one_task_prompts()
        if group == "after":
            opened >> [for_sensor, for_one_task]
        submitted = GrokVideoGenerateOperator.partial(
            task_id=f"generate_{group}", **FAILOVER
        ).expand(prompt=for_sensor)
        GrokVideoSensor.partial(
            task_id=f"wait_{group}", conn_id=XAI, timeout=TIMEOUT, **POLL
        ).expand(generation_id=submitted.output)
        GrokVideoGenerateOperator.partial(
            task_id=f"generate_and_wait_{group}",
            wait_for_completion=True,
            timeout=TIMEOUT,
            **FAILOVER,
            **POLL,
        ).expand(prompt=for_one_task)
