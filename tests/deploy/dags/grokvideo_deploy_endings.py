"""The deployment tests' task endings (``tests/deploy/test_deployment.py`` under the
LocalExecutor, ``tests/deploy/test_distributed.py`` under Celery): each outcome of a wait that its
trigger ends, on xAI's emulated API, in one DAG run.

- ``generate_and_wait`` and ``wait`` (after ``generate``) succeed; their twins ``*_on_worker``
  (``end_from_trigger=False``) resume on a worker, so that the test compares their XComs;
- ``fails_then_retries``: the job fails; the task has a retry left, so its trigger sends it up
  for retry, and the retry reads the same job (the failure is final) and fails;
- ``fails`` (after ``generate_failing``): the job fails, no retry left;
- ``skips`` (after ``generate_slow``): a sensor with ``soft_fail`` whose job outlasts its
  ``timeout``.

Each callback appends a JSON line to the file named by ``GROKVIDEO_TEST_CALLBACKS`` (set by the
deployment) with the process that ran it: Airflow's DAG processor runs the failure and retry
callbacks of a task that its trigger ended.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

CONN_ID = "grokvideo_xai_default"
POLL = {"poll_interval": 1.0, "min_poll_interval": 0.5, "max_poll_interval": 2.0}
#: The jobs' length once the test releases them (it holds them until every wait deferred).
JOB = "[emulator:seconds=4]"


def noted(kind: str) -> Callable[[Any], None]:
    """A callback that notes its kind, task, try and process (``airflow <command>``)."""

    def note(context: Any) -> None:
        path = os.environ.get("GROKVIDEO_TEST_CALLBACKS")
        if path:
            ti = context["ti"]
            line = {
                "callback": kind,
                "task_id": ti.task_id,
                "try_number": ti.try_number,
                "process": " ".join(os.path.basename(arg) for arg in sys.argv[:2]),
            }
            with open(path, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")

    note.__name__ = f"note_{kind}"
    return note


with DAG(
    dag_id="grokvideo_deploy_endings",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["grokvideo", "deploy-test"],
) as dag:
    for suffix, end_from_trigger in (("", None), ("_on_worker", False)):
        GrokVideoGenerateOperator(
            task_id=f"generate_and_wait{suffix}",
            conn_id=CONN_ID,
            prompt=f"a lighthouse at dusk {JOB}",
            duration=6,
            wait_for_completion=True,
            timeout=600,
            end_from_trigger=end_from_trigger,
            **POLL,
        )
        generate = GrokVideoGenerateOperator(
            task_id=f"generate{suffix}",
            conn_id=CONN_ID,
            prompt=f"a harbour at dawn {JOB}",
            duration=6,
        )
        GrokVideoSensor(
            task_id=f"wait{suffix}",
            conn_id=CONN_ID,
            generation_id=generate.output,
            timeout=600,
            end_from_trigger=end_from_trigger,
            **POLL,
        )
    GrokVideoGenerateOperator(
        task_id="fails_then_retries",
        conn_id=CONN_ID,
        prompt=f"a storm over the sea {JOB} [emulator:fail]",
        wait_for_completion=True,
        timeout=600,
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_retry_callback=noted("retry"),
        on_failure_callback=noted("failure"),
        **POLL,
    )
    failing = GrokVideoGenerateOperator(
        task_id="generate_failing", conn_id=CONN_ID, prompt=f"a flooded city {JOB} [emulator:fail]"
    )
    GrokVideoSensor(
        task_id="fails",
        conn_id=CONN_ID,
        generation_id=failing.output,
        timeout=600,
        retries=0,
        on_failure_callback=noted("failure"),
        **POLL,
    )
    slow = GrokVideoGenerateOperator(
        task_id="generate_slow", conn_id=CONN_ID, prompt="a glacier calving [emulator:seconds=300]"
    )
    GrokVideoSensor(
        task_id="skips",
        conn_id=CONN_ID,
        generation_id=slow.output,
        timeout=5,
        soft_fail=True,
        **POLL,
    )
