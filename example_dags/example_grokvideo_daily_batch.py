"""A daily marketing batch: one video per product, generated in parallel, stored.

``prompts`` builds today's prompts from the ``products`` param; ``generate``, ``wait`` and
``download`` are mapped over them with dynamic task mapping (one mapped task instance per
video, named after its product in the UI through ``map_index_template``), ``download`` stores
each video and its thumbnail under ``GROKVIDEO_DESTINATION/<date>/`` before the upstream's URLs
expire (about 24 hours), ``report`` lists the finished videos, and ``cost_report`` counts
them and adds up what they cost (billed where the upstream reports it, else the generate task's
estimate).  Each wait defers to the
triggerer, so a batch of fifty videos holds no worker slot while the upstream works.  The
videos then show on the "Grok videos" page of Airflow's UI.

**Schedule: every day at midnight UTC (``@daily``), one run at a time, no catch-up.  Every run
pays for one video per product.**  Unpausing this DAG starts the day's scheduled run; so does
the Trigger dialog's "unpause" option, in addition to the run you trigger: one click there
makes two batches.  To try it, trigger it while it stays paused, with few products.

Pick the upstream with the ``conn_id`` param or the ``GROKVIDEO_CONN_ID`` environment variable
(default ``grokvideo_xcompute_default``).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

CONN_ID = os.environ.get("GROKVIDEO_CONN_ID", "grokvideo_xcompute_default")
POLL_INTERVAL = float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20"))
MIN_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5"))
MAX_POLL_INTERVAL = float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120"))
WAIT_TIMEOUT = float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600"))
#: The generate task's estimate, for the videos whose upstream bills nothing it reports.
COST_ESTIMATE = "{{ ti.xcom_pull(task_ids='generate', key='grokvideo', map_indexes=ti.map_index) }}"
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)
# The same Asset as in example_grokvideo_asset_consumer.py: name and URI must match.
GROKVIDEO_VIDEOS = Asset(name="grokvideo_videos", uri="file:///grokvideo/videos")
# Each mapped task instance is named after its product in the UI instead of 0, 1, 2: the
# prompts, the generations and the waits are mapped in the same order as the products.
PRODUCT = "{{ params.products[ti.map_index] }}"

with DAG(
    dag_id="example_grokvideo_daily_batch",
    description="Daily marketing videos, one per product, with dynamic task mapping",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="Connection of the upstream."),
        "products": Param(
            ["trail running shoes", "insulated water bottle", "waterproof backpack"],
            type="array",
            minItems=1,
            description="One video per product.",
        ),
        "style": Param(
            "bright, upbeat product showcase, smooth camera orbit, studio lighting",
            type="string",
        ),
    },
) as dag:

    @task
    def prompts(params: dict[str, Any] | None = None) -> list[str]:
        """Today's prompts, one per product."""
        params = params or {}
        style = params.get("style", "")
        return [f"{product}: {style}".strip(": ") for product in params["products"]]

    generate = GrokVideoGenerateOperator.partial(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        duration=6,
        aspect_ratio="9:16",
        retries=2,  # safe: a retry re-attaches to the recorded submit, never pays twice
        map_index_template=PRODUCT,
    ).expand(prompt=prompts())

    wait = GrokVideoSensor.partial(
        task_id="wait",
        conn_id="{{ params.conn_id }}",
        poll_interval=POLL_INTERVAL,
        min_poll_interval=MIN_POLL_INTERVAL,
        max_poll_interval=MAX_POLL_INTERVAL,
        timeout=WAIT_TIMEOUT,
        retries=2,
        retry_delay=timedelta(seconds=30),
        cost_estimate=COST_ESTIMATE,
        map_index_template=PRODUCT,
    ).expand(generation_id=generate.output)

    download = GrokVideoDownloadOperator.partial(
        task_id="download",
        # run_after: the day of a scheduled run, the moment of a manual one (which in Airflow 3
        # may have no logical date, so no ``ds``).
        destination=DESTINATION.rstrip("/") + "/{{ dag_run.run_after.strftime('%Y-%m-%d') }}",
        include_thumbnail=True,
        outlets=[GROKVIDEO_VIDEOS],
        map_index_template=PRODUCT,
    ).expand(generation=wait.output)

    @task
    def report(videos: list[dict[str, Any]]) -> list[str]:
        """One line per finished video; the list is this task's XCom."""
        lines = [
            f"{video['generation_id']}: {', '.join(video.get('video_urls') or [])}"
            for video in videos
        ]
        for line in lines:
            print(line)
        return lines

    report(wait.output)

    @task
    def cost_report(videos: list[dict[str, Any]]) -> dict[str, Any]:
        """The run's number of videos and their total cost, summed exactly in ticks."""
        from airflow_provider_grokvideo.pricing import format_usd, ticks_to_usd

        videos = list(videos)
        priced = [video for video in videos if video.get("cost_ticks") is not None]
        total = ticks_to_usd(sum(video["cost_ticks"] for video in priced))
        sources = sorted({video["cost_source"] for video in priced})
        unknown = len(videos) - len(priced)
        print(
            f"{len(videos)} videos, total cost {format_usd(total)} ({', '.join(sources) or 'none'})"
            + (f"; {unknown} without a known price" if unknown else "")
        )
        return {
            "videos": len(videos),
            "total_cost_usd": str(total),
            "cost_sources": sources,
            "videos_without_cost": unknown,
        }

    cost_report(wait.output)
