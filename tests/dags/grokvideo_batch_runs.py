"""DAGs run by ``tests/operators/test_batch.py`` with ``dag.test()``: the batch operator against
the emulator, requests and destination from the run's conf, fast polls, a retry allowed."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, Param

from airflow_provider_grokvideo.operators.batch import GrokVideoBatchOperator

PARAMS = {
    "requests": Param([{"prompt": "a paper boat"}], type="array"),
    "destination": Param("file:///tmp/grokvideo-batch-tests", type="string"),
}
#: The lenient DAG's outlet: its event lists the stored files.
BATCH_VIDEOS = Asset(name="grokvideo_batch_test_videos", uri="file:///grokvideo/batch-tests")

RUNS = (
    ("grokvideo_test_batch", True, True),
    ("grokvideo_test_batch_worker", False, True),
    ("grokvideo_test_batch_lenient", False, False),
)
for dag_id, deferrable, strict in RUNS:
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2025, 1, 1), params=PARAMS) as dag:
        GrokVideoBatchOperator(
            task_id="batch",
            conn_id="grokvideo_xai_default",
            requests="{{ params.requests | tojson }}",
            destination="{{ params.destination }}",
            fail_on_partial_error=strict,
            outlets=[] if strict else [BATCH_VIDEOS],
            deferrable=deferrable,
            poll_interval=0.2,
            timeout=120,
            retries=1,
            retry_delay=timedelta(0),
        )
    globals()[dag_id] = dag
