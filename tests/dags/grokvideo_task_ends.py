"""DAGs run by ``tests/tasks/test_ending.py`` with ``dag.test()``: waits that their trigger ends,
with retries and callbacks, against the emulator.

Each callback appends a line to the file named by ``GROKVIDEO_TEST_CALLBACKS`` (when set), from
whichever process runs it: the worker, or the DAG processor for a task its trigger ended.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

FAST_POLLS = {"poll_interval": 0.3, "min_poll_interval": 0.1, "max_poll_interval": 0.5}
PARAMS = {
    "conn_id": Param("grokvideo_xai_default", type="string"),
    "prompt": Param("a paper boat on a river [emulator:seconds=2]", type="string"),
}


def noted(kind: str) -> Callable[[Any], None]:
    """A callback that notes its kind, task and try."""

    def note(context: Any) -> None:
        path = os.environ.get("GROKVIDEO_TEST_CALLBACKS")
        if path:
            ti = context["ti"]
            line = {"callback": kind, "task_id": ti.task_id, "try_number": ti.try_number}
            with open(path, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")

    note.__name__ = f"note_{kind}"
    return note


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=datetime(2025, 1, 1), params=PARAMS)


with _dag("grokvideo_test_end_generate_and_wait") as wait_dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        wait_for_completion=True,
        timeout=60,
        retries=1,
        retry_delay=timedelta(0),
        on_failure_callback=noted("failure"),
        on_retry_callback=noted("retry"),
        **FAST_POLLS,
    )

with _dag("grokvideo_test_end_sensor") as sensor_dag:
    generate = GrokVideoGenerateOperator(
        task_id="generate", conn_id="{{ params.conn_id }}", prompt="{{ params.prompt }}"
    )
    GrokVideoSensor(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        generation_id=generate.output,
        timeout=60,
        retries=1,
        retry_delay=timedelta(0),
        on_failure_callback=noted("failure"),
        on_retry_callback=noted("retry"),
        **FAST_POLLS,
    )

with _dag("grokvideo_test_end_sensor_soft_fail") as soft_fail_dag:
    generate = GrokVideoGenerateOperator(
        task_id="generate", conn_id="{{ params.conn_id }}", prompt="{{ params.prompt }}"
    )
    GrokVideoSensor(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        generation_id=generate.output,
        timeout=1,
        soft_fail=True,
        **FAST_POLLS,
    )

with _dag("grokvideo_test_end_with_success_callback") as success_callback_dag:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        wait_for_completion=True,
        timeout=60,
        on_success_callback=noted("success"),
        **FAST_POLLS,
    )
