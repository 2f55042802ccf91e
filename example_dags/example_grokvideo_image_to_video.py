"""Image to video with Grok: animate a picture, described by a prompt.

``image_urls`` takes public http(s) URLs (xcompute: up to 7, Mountsea: up to 5, xAI: one).
With an image, the video follows the picture's aspect ratio on xcompute and Mountsea.

Pick the upstream with the ``conn_id`` param or the ``GROKVIDEO_CONN_ID`` environment variable
(default ``grokvideo_xcompute_default``); the image with the ``image_url`` param or
``GROKVIDEO_IMAGE_URL``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

CONN_ID = os.environ.get("GROKVIDEO_CONN_ID", "grokvideo_xcompute_default")
IMAGE_URL = os.environ.get(
    "GROKVIDEO_IMAGE_URL",
    "https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg",
)
POLL_INTERVAL = float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20"))
MIN_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5"))
MAX_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120"))
WAIT_TIMEOUT = float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600"))

with DAG(
    dag_id="example_grokvideo_image_to_video",
    description="Animate an image with Grok",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="Connection of the upstream."),
        "image_url": Param(IMAGE_URL, type="string", description="Public http(s) image URL."),
        "prompt": Param(
            "The cat slowly turns its head toward the camera and blinks",
            type="string",
            minLength=1,
        ),
        "duration": Param(6, type="integer", minimum=1),
    },
) as dag:
    generate = GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        image_urls=["{{ params.image_url }}"],
        duration="{{ params.duration }}",
        retries=2,  # safe: a retry re-attaches to the recorded submit, never pays twice
    )

    wait = GrokVideoSensor(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        generation_id="{{ ti.xcom_pull(task_ids='generate') }}",
        poll_interval=POLL_INTERVAL,
        min_poll_interval=MIN_POLL_INTERVAL,
        max_poll_interval=MAX_POLL_INTERVAL,
        timeout=WAIT_TIMEOUT,
        retries=2,
        retry_delay=timedelta(seconds=30),
    )

    generate >> wait
