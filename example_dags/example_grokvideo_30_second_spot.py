"""A 30-second spot from a 10-second clip: generate 10 s, extend it by 10 s, twice, store it.

xAI makes videos of at most 15 s; its extensions (``POST /v1/videos/extensions``) continue a
video for 2..10 more seconds.  Each task here submits and waits in one go
(``wait_for_completion=True``, deferred to the triggerer), and hands the finished generation to
the next through XCom: ``GrokVideoExtendOperator(video_url=previous.output)`` takes its video URL
(the upstream's, valid for hours) and its length (``duration``, checked against xAI's limits
before anything is paid).  Each extension is billed by the seconds it adds; ``download`` stores
the 30-second result.

Edits and extensions are xAI's alone: the connection is the ``conn_id`` param (default
``grokvideo_xai_default``)::

    airflow dags trigger example_grokvideo_30_second_spot \\
        --conf '{"opening": "A runner at dawn on an empty beach, cinematic"}'
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.extend import GrokVideoExtendOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

CONN_ID = os.environ.get("GROKVIDEO_XAI_CONN_ID", "grokvideo_xai_default")
WAIT = {
    "wait_for_completion": True,
    "poll_interval": float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20")),
    "min_poll_interval": float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5")),
    "max_poll_interval": float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120")),
    "timeout": float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600")),
    "retries": 2,  # safe: a retry re-attaches to the recorded generation, never pays twice
    "retry_delay": timedelta(seconds=30),
}
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)

with DAG(
    dag_id="example_grokvideo_30_second_spot",
    description="Generate 10 s, extend 10 s, extend 10 s: a 30-second spot",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="An xAI connection."),
        "opening": Param(
            "A runner at dawn on an empty beach, cinematic",
            type="string",
            minLength=1,
            description="The first 10 seconds.",
        ),
        "middle": Param(
            "She speeds up as the sun rises over the waves",
            type="string",
            minLength=1,
            description="What happens next (seconds 10 to 20).",
        ),
        "ending": Param(
            "She stops, smiles at the camera; the brand's logo appears in the sand",
            type="string",
            minLength=1,
            description="The last 10 seconds.",
        ),
        "max_cost_usd": Param(1.0, type="number", description="Refuse any step dearer than this."),
    },
) as dag:
    opening = GrokVideoGenerateOperator(
        task_id="opening",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.opening }}",
        duration=10,
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    )
    middle = GrokVideoExtendOperator(
        task_id="extend_to_20s",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.middle }}",
        video_url=opening.output,  # the finished generation: its video URL and its length
        duration=10,
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    )
    ending = GrokVideoExtendOperator(
        task_id="extend_to_30s",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.ending }}",
        video_url=middle.output,
        duration=10,
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    )
    download = GrokVideoDownloadOperator(
        task_id="download",
        generation=ending.output,
        destination=DESTINATION,
        file_name="spot-{generation_id}.mp4",
    )
