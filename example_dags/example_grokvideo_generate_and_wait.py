"""Generate and wait in one task: ``GrokVideoGenerateOperator(wait_for_completion=True)``.

``generate_and_wait`` submits the generation, pushes its id to XCom at once (key
``generation_id``), waits for it in the triggerer with the same trigger as
``GrokVideoSensor`` and returns the finished generation (status, video URLs, thumbnail,
expiry); ``download`` stores the video before the upstream's URLs expire.  Before deferring,
the task reads the status once and finishes on the worker if the video is already done.

Retries are safe: the submit is recorded in Airflow 3.3's task state store, so a retry (after
a killed worker, a lost triggerer, a network error while waiting) re-attaches to the recorded
generation instead of paying for a second one.  A try that died mid-submit is not guessed
about: the retry fails, saying when that submit was sent and how to submit anyway.

The connection is the ``conn_id`` param (default ``GROKVIDEO_CONN_ID``, else
``grokvideo_xcompute_default``)::

    airflow dags trigger example_grokvideo_generate_and_wait \\
        --conf '{"conn_id": "grokvideo_mountsea_default", "prompt": "A kite over the dunes"}'
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

CONN_ID = os.environ.get("GROKVIDEO_CONN_ID", "grokvideo_xcompute_default")
POLL_INTERVAL = float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20"))
MIN_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5"))
MAX_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120"))
WAIT_TIMEOUT = float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600"))
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)

with DAG(
    dag_id="example_grokvideo_generate_and_wait",
    description="Generate one video and wait for it, in one task",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="Connection of the upstream."),
        "prompt": Param(
            "A kite over golden dunes at sunset, cinematic",
            type="string",
            minLength=1,
            description="What the video shows.",
        ),
    },
) as dag:
    generate_and_wait = GrokVideoGenerateOperator(
        task_id="generate_and_wait",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        duration=6,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        min_poll_interval=MIN_POLL_INTERVAL,
        max_poll_interval=MAX_POLL_INTERVAL,
        timeout=WAIT_TIMEOUT,
        retries=2,
        retry_delay=timedelta(seconds=30),
    )

    download = GrokVideoDownloadOperator(
        task_id="download",
        generation=generate_and_wait.output,
        destination=DESTINATION,
    )

    generate_and_wait >> download
