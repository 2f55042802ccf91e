"""DAGs run by ``tests/integration/test_budget_runs.py`` with ``dag.test()``: paid requests
against a spend budget (each 5 s at 480p on xAI: $0.25 at $0.05/s), on the emulator.
Registered as a DAG bundle by the tests."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

START = datetime(2025, 1, 1)
PROMPTS = [f"kite number {n}" for n in range(1, 4)]

with DAG(dag_id="grokvideo_test_budget_mapped", schedule=None, start_date=START) as mapped:
    GrokVideoGenerateOperator.partial(
        task_id="generate", conn_id="budget_small", duration=5, resolution="480p"
    ).expand(prompt=PROMPTS)

with DAG(dag_id="grokvideo_test_budget_failover", schedule=None, start_date=START) as failover:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="budget_spent",
        fallback_conn_ids=["budget_small"],
        prompt="a kite in the rain",
        duration=5,
        resolution="480p",
    )

with DAG(dag_id="grokvideo_test_budget_billed", schedule=None, start_date=START) as billed:
    # Estimated at the connection's own price ($0.10/s: $0.50), billed by xAI at $0.25; the
    # wait ends in the triggerer (Airflow 3.3.1+), which counts the bill.
    GrokVideoGenerateOperator(
        task_id="generate_and_wait",
        conn_id="budget_priced",
        prompt="a kite at dusk [emulator:seconds=2]",
        duration=5,
        resolution="480p",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.3,
        min_poll_interval=0.1,
        max_poll_interval=0.5,
    )
