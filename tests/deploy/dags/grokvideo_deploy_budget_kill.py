"""The deployment test's submits killed while they wait for the key's request budget: a
mapped generate task with retries on a connection of its own (an emulator that serves nothing
else, limited to a low rate; the key's budget shared in Redis), whose processes the test
SIGKILLs while every submit waits for its turn. Each retry must submit: nothing was sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

#: The connection, made by the test (it names the deployment's Redis as the shared budget).
CONN_ID = "grokvideo_budget_kill"
VIDEOS = 8

with DAG(
    dag_id="grokvideo_deploy_budget_kill",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["grokvideo", "deploy-test"],
) as dag:
    GrokVideoGenerateOperator.partial(
        task_id="generate",
        conn_id=CONN_ID,
        duration=6,
        retries=1,
        retry_delay=timedelta(seconds=1),
    ).expand(prompt=[f"a paper boat {k}, killed waiting for the budget" for k in range(VIDEOS)])
