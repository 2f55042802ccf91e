"""DAGs run by ``tests/test_batch_operator.py`` with ``dag.test()``: the batch operator against
the emulator, requests and destination from the run's conf, fast polls, a retry allowed."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.batch import GrokVideoBatchOperator

PARAMS = {
    "requests": Param([{"prompt": "a paper boat"}], type="array"),
    "destination": Param("file:///tmp/grokvideo-batch-tests", type="string"),
    "fail_on_partial_error": Param(True, type="boolean"),
}

for dag_id, deferrable in (("grokvideo_test_batch", True), ("grokvideo_test_batch_worker", False)):
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2025, 1, 1), params=PARAMS) as dag:
        GrokVideoBatchOperator(
            task_id="batch",
            conn_id="grokvideo_xai_default",
            requests="{{ params.requests | tojson }}",
            destination="{{ params.destination }}",
            fail_on_partial_error=True,
            deferrable=deferrable,
            poll_interval=0.2,
            timeout=120,
            retries=1,
            retry_delay=timedelta(0),
        )
    globals()[dag_id] = dag
