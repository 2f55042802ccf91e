"""The deployment test's spend budget: a mapped batch of ``videos`` paid submits (5 s at 480p
on xAI, $0.25 each) through one connection whose daily budget is smaller than the batch, run by
two Celery workers at once.  The connection (``grokvideo_spend_xai``, made by the test) keeps its
ledger in the deployment's Redis.  No waits: the money is spent at the submit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

CONN_ID = "grokvideo_spend_xai"

with DAG(
    dag_id="grokvideo_deploy_spend_budget",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_tasks=64,
    params={"videos": 40},
    tags=["grokvideo", "deploy-test"],
) as dag:

    @task
    def prompts(params: dict[str, Any] | None = None) -> list[str]:
        videos = int((params or {}).get("videos", 40))
        return [f"budget video {k} [emulator:seconds=2]" for k in range(videos)]

    GrokVideoGenerateOperator.partial(
        task_id="generate", conn_id=CONN_ID, duration=5, resolution="480p"
    ).expand(prompt=prompts())
