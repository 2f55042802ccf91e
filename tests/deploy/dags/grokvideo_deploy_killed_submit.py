"""The deployment test's killed submit: one generate task with retries, on a connection of
its own (an emulator that serves nothing else), whose process the test SIGKILLs while its
submit is in flight. The retry must not submit again."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

with DAG(
    dag_id="grokvideo_deploy_killed_submit",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["grokvideo", "deploy-test"],
) as dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="grokvideo_killed_submit",
        prompt="a paper boat on a river, killed mid-submit",
        duration=6,
        # What teams set on every task: the point is that it is now safe on generate.
        retries=2,
        retry_delay=timedelta(seconds=1),
    )
