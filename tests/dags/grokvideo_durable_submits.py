"""DAGs run by ``tests/integration/test_durable_submit.py`` with ``dag.test()``: the generate
operator's durable submits and its wait mode, with retries, against the emulator.

The connection and prompt come from the run's conf; poll settings are fast.  Registered as a
DAG bundle of its own by the tests (``dag.test()`` only runs a DAG found in a bundle).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

FAST_POLLS = {"poll_interval": 0.3, "min_poll_interval": 0.1, "max_poll_interval": 0.5}
PARAMS = {
    "conn_id": Param("grokvideo_xai_default", type="string"),
    "prompt": Param("a paper boat on a river", type="string"),
    "resubmit_unknown": Param(False, type="boolean"),
}
# A try that is still submitting (or waiting) after this many seconds is ended by Airflow, as
# a killed worker ends it; the task's retry then finds what the try recorded.
TRY_SECONDS = 4
#: Called (in the test's process) when the submit task's try has ended and a retry is due: a
#: test makes what the retry meets happen there, on that condition rather than after a delay.
ON_RETRY: list[Callable[[Any], None]] = []


def _retrying(context: Any) -> None:
    for callback in ON_RETRY:
        callback(context)


with DAG(
    dag_id="grokvideo_test_submit",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params=PARAMS,
) as submit_dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        resubmit_unknown="{{ params.resubmit_unknown }}",
        retries=1,
        retry_delay=timedelta(0),
        execution_timeout=timedelta(seconds=TRY_SECONDS),
        on_retry_callback=_retrying,
    )

with DAG(
    dag_id="grokvideo_test_generate_and_poll",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params=PARAMS,
) as poll_dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        wait_for_completion=True,
        deferrable=False,
        timeout=60,
        retries=1,
        retry_delay=timedelta(0),
        execution_timeout=timedelta(seconds=TRY_SECONDS),
        **FAST_POLLS,
    )

with DAG(
    dag_id="grokvideo_test_generate_and_wait",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params=PARAMS,
) as wait_dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        wait_for_completion=True,
        timeout=60,
        retries=2,
        retry_delay=timedelta(0),
        **FAST_POLLS,
    )

with DAG(
    dag_id="grokvideo_test_generate_and_wait_mapped",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params=PARAMS,
) as mapped_dag:
    GrokVideoGenerateOperator.partial(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        wait_for_completion=True,
        timeout=60,
        retries=2,
        **FAST_POLLS,
    ).expand(prompt=["a red fox", "a blue whale", "a green parrot"])
