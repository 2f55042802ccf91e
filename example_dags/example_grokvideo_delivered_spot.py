"""A 9:16 720p spot with a preset voice, delivered straight into a bucket, and checked.

``spot`` asks xAI's ``grok-imagine-video-1.5`` for a vertical 720p video voiced by ``ara``
(one of xAI's preset voices, ``reference_audios``) and has xAI PUT it straight into the
bucket: ``deliver_to`` presigns a PUT URL for the object with the Amazon provider's
``S3Hook`` (extra ``[s3]``) and sends it as ``output.upload_url``; no worker downloads it.
When the job ends the task checks that the object is there and is the video paid for
(duration, 720 x 1280, H.264, sound: the ``[media]`` extra reads it with PyAV, else the MP4
header), stores a poster frame beside it, and records the result (``delivered``) for the
"Grok videos" page, the ``grokvideo_spots`` Asset event and the log.  A failed upload falls
back to downloading the video from xAI's URL into the same object, and says so; a video that
is not what was asked warns (``on_mismatch="fail"`` fails the task instead).

The destination is ``GROKVIDEO_SPOT_DESTINATION`` (an ``s3://<aws_conn_id>@<bucket>/<key>``
template), the connection the ``conn_id`` param::

    airflow dags trigger example_grokvideo_delivered_spot \\
        --conf '{"prompt": "A barista pours latte art, morning light"}'
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, Param

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

CONN_ID = os.environ.get("GROKVIDEO_XAI_CONN_ID", "grokvideo_xai_default")
DESTINATION = os.environ.get(
    "GROKVIDEO_SPOT_DESTINATION", "s3://aws_default@grokvideo-spots/spots/{{ ts_nodash }}.mp4"
)
SPOTS = Asset(name="grokvideo_spots", uri="s3://grokvideo-spots/spots/")

with DAG(
    dag_id="example_grokvideo_delivered_spot",
    description="A 9:16 720p spot with a preset voice, delivered into a bucket and checked",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="Connection of xAI."),
        "prompt": Param(
            "A barista pours latte art in morning light; she says: good morning",
            type="string",
            minLength=1,
            description="What the spot shows and says.",
        ),
        "duration": Param(10, type="integer", minimum=1, maximum=15),
    },
) as dag:
    spot = GrokVideoGenerateOperator(
        task_id="spot",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        model="grok-imagine-video-1.5",
        duration="{{ params.duration }}",
        aspect_ratio="9:16",
        resolution="720p",
        reference_audios=[{"voice_id": "ara"}],
        deliver_to=DESTINATION,
        on_mismatch="warn",
        poll_interval=float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20")),
        min_poll_interval=float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5")),
        max_poll_interval=float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120")),
        timeout=float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600")),
        outlets=[SPOTS],
        retries=2,  # safe: a retry re-attaches to the recorded generation, never pays twice
        retry_delay=timedelta(seconds=30),
    )
