"""DAGs run by ``tests/integration/test_failover_runs.py`` with ``dag.test()``: a sensor that
polls the connection the generate task's record names, against the emulator.

``failover_made`` is the connection that makes every video here (xAI); each sensor is given
``failover_first`` (Mountsea), as a DAG whose generate task failed over from its first
connection would give it: polling that one for an xAI id answers 404, so a wait that succeeds
polled the connection that made the video.  Registered as a DAG bundle by the tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, XComArg, task

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

MADE, FIRST = "failover_made", "failover_first"
FAST_POLLS = {"poll_interval": 0.3, "min_poll_interval": 0.1, "max_poll_interval": 0.5}
START = datetime(2025, 1, 1)

with DAG(dag_id="grokvideo_test_wait_follows_record", schedule=None, start_date=START) as follows:
    made = GrokVideoGenerateOperator(task_id="generate", conn_id=MADE, prompt="a red kite")
    GrokVideoSensor(
        task_id="wait", conn_id=FIRST, generation_id=made.output, timeout=60, **FAST_POLLS
    )
    GrokVideoSensor(
        task_id="poke",
        conn_id=FIRST,
        generation_id=made.output,
        deferrable=False,
        timeout=60,
        **FAST_POLLS,
    )
    GrokVideoSensor(
        task_id="wait_on_record",
        conn_id=FIRST,
        generation_id=XComArg(made, key="grokvideo"),
        timeout=60,
        **FAST_POLLS,
    )

with DAG(
    dag_id="grokvideo_test_mapped_wait_follows_record", schedule=None, start_date=START
) as mapped:
    batch = GrokVideoGenerateOperator.partial(task_id="generate", conn_id=MADE).expand(
        prompt=["a blue kite", "a green kite [emulator:seconds=2]"]
    )
    GrokVideoSensor.partial(task_id="wait", conn_id=FIRST, timeout=60, **FAST_POLLS).expand(
        generation_id=batch.output
    )


@task(task_id="generate")
def another_generation(**context: Any) -> str:
    """Submit through ``failover_first`` itself, but leave a record naming another job made
    through ``failover_made``: the sensor must not follow a record of another id."""
    from airflow_provider_grokvideo.hooks import get_video_hook

    generation_id = get_video_hook(FIRST).submit_video("a yellow kite")
    record = {"generation_id": "not-this-one", "conn_id": MADE, "stage": "submitted"}
    context["ti"].xcom_push(key="grokvideo", value=record)
    return generation_id


with DAG(dag_id="grokvideo_test_wait_other_record", schedule=None, start_date=START) as other:
    GrokVideoSensor(
        task_id="wait",
        conn_id=FIRST,
        generation_id=another_generation(),
        timeout=60,
        **FAST_POLLS,
    )


# -- the generate task failing over: its connections and request come from the run's conf ------

FAILOVER_PARAMS = {
    "conn_id": Param("failover_first", type="string"),
    "fallbacks": Param("failover_made", type="string"),  # comma-separated, as a template gives
    "prompt": Param("a kite that fails over", type="string"),
    "duration": Param(6, type="integer"),
}

with DAG(
    dag_id="grokvideo_test_failover",
    schedule=None,
    start_date=START,
    params=FAILOVER_PARAMS,
) as failover:
    submitted = GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        fallback_conn_ids="{{ params.fallbacks }}",
        prompt="{{ params.prompt }}",
        duration="{{ params.duration }}",
    )
    # Given the first connection, as a DAG author writes it: the record says where to poll.
    GrokVideoSensor(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        generation_id=submitted.output,
        timeout=60,
        **FAST_POLLS,
    )

with DAG(
    dag_id="grokvideo_test_failover_one_task",
    schedule=None,
    start_date=START,
    params=FAILOVER_PARAMS,
) as failover_one_task:
    GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        fallback_conn_ids="{{ params.fallbacks }}",
        prompt="{{ params.prompt }}",
        duration="{{ params.duration }}",
        wait_for_completion=True,
        timeout=60,
        **FAST_POLLS,
    )
