"""Text to video with Grok: submit a prompt, wait in the triggerer, store the video.

``generate`` submits one generation and returns its id (XCom); ``wait`` defers to the
triggerer until the upstream finishes it and returns the finished generation (status, video
URLs, thumbnail, expiry) through XCom; ``download`` copies the video and its thumbnail into
``GROKVIDEO_DESTINATION`` (any ``ObjectStoragePath`` URI; default a local ``grokvideo-videos``
folder in the temporary directory) before the upstream's URLs expire, and emits an event of the
``grokvideo_videos`` Asset, on which ``example_grokvideo_asset_consumer`` is scheduled.

The same DAG runs against xcompute, Mountsea, xAI or the bundled emulator: only the connection
changes.  Pick it per run with the ``conn_id`` param, or for the whole deployment with the
``GROKVIDEO_CONN_ID`` environment variable (default ``grokvideo_xcompute_default``)::

    airflow dags trigger example_grokvideo_text_to_video \\
        --conf '{"conn_id": "grokvideo_xai_default", "prompt": "A paper boat on a river"}'

Retries: both tasks have ``retries=2``.  ``generate`` records each submit in Airflow 3.3's task
state store before sending it, so a retry re-attaches to the recorded generation instead of
paying for a second one (and refuses to guess after a try died mid-submit); ``wait`` only
reads, so its retries poll the same generation again.

Poll spacing can be tuned per deployment with ``GROKVIDEO_POLL_INTERVAL``,
``GROKVIDEO_MIN_POLL_INTERVAL``, ``GROKVIDEO_MAX_POLL_INTERVAL`` and ``GROKVIDEO_WAIT_TIMEOUT``
(seconds).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, Param

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

CONN_ID = os.environ.get("GROKVIDEO_CONN_ID", "grokvideo_xcompute_default")
POLL_INTERVAL = float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20"))
MIN_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5"))
MAX_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120"))
WAIT_TIMEOUT = float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600"))
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)
# The same Asset as in example_grokvideo_asset_consumer.py: name and URI must match.
GROKVIDEO_VIDEOS = Asset(name="grokvideo_videos", uri="file:///grokvideo/videos")

with DAG(
    dag_id="example_grokvideo_text_to_video",
    description="Generate one video from a text prompt with Grok",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(
            CONN_ID,
            type="string",
            description="Connection of the upstream: grokvideo_xcompute_default, "
            "grokvideo_mountsea_default, grokvideo_xai_default or your own.",
        ),
        "prompt": Param(
            "A red fox trotting through fresh snow at dawn, cinematic, slow motion",
            type="string",
            minLength=1,
            description="What the video shows.",
        ),
        "duration": Param(6, type="integer", minimum=1, description="Seconds of video."),
        "aspect_ratio": Param("16:9", type="string", description="For example 16:9 or 9:16."),
        "resolution": Param("480p", type="string", enum=["480p", "720p"]),
    },
) as dag:
    generate = GrokVideoGenerateOperator(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.prompt }}",
        duration="{{ params.duration }}",
        aspect_ratio="{{ params.aspect_ratio }}",
        resolution="{{ params.resolution }}",
        retries=2,  # safe: a retry re-attaches to the recorded submit, never pays twice
    )

    wait = GrokVideoSensor(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        generation_id=generate.output,
        poll_interval=POLL_INTERVAL,
        min_poll_interval=MIN_POLL_INTERVAL,
        max_poll_interval=MAX_POLL_INTERVAL,
        timeout=WAIT_TIMEOUT,
        retries=2,
        retry_delay=timedelta(seconds=30),
    )

    download = GrokVideoDownloadOperator(
        task_id="download",
        generation=wait.output,
        destination=DESTINATION,
        include_thumbnail=True,
        outlets=[GROKVIDEO_VIDEOS],
    )

    generate >> wait >> download
