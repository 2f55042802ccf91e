"""Variants of one approved video: one edit per market, mapped, each one stored.

``approved`` makes (and waits for) the video the campaign approved; in production, replace it
by the approved copy's URL (a public http(s) URL, or a stored copy such as
``s3://aws_default@bucket/approved.mp4``, which is sent as a data URI).  ``edit`` is a
``GrokVideoEditOperator`` mapped over the markets (``POST /v1/videos/edits`` on xAI): each edit
keeps the source's length (xAI edits sources of at most 8.7 s), is estimated at it against
``max_cost_usd`` and waits in the triggerer; ``download`` stores every variant.

    airflow dags trigger example_grokvideo_variants \\
        --conf '{"markets": ["Japan", "Brazil", "Germany"]}'
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

CONN_ID = os.environ.get("GROKVIDEO_XAI_CONN_ID", "grokvideo_xai_default")
WAIT = {
    "wait_for_completion": True,
    "poll_interval": float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20")),
    "min_poll_interval": float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5")),
    "max_poll_interval": float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120")),
    "timeout": float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600")),
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
}
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)
MARKET = "{{ params.markets[ti.map_index] }}"

with DAG(
    dag_id="example_grokvideo_variants",
    description="One approved video, one edited variant per market",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="An xAI connection."),
        "approved": Param(
            "A steel water bottle on a wooden table, morning light, slow push-in",
            type="string",
            minLength=1,
            description="The approved video's prompt.",
        ),
        "markets": Param(
            ["Japan", "Brazil", "Germany"],
            type="array",
            minItems=1,
            description="One edited variant per market.",
        ),
        "change": Param(
            "Restyle the scene for {market}: its setting, its light, a label in its language",
            type="string",
            description="The edit asked for each market ({market} is replaced).",
        ),
        "max_cost_usd": Param(1.0, type="number", description="Refuse any video dearer."),
    },
) as dag:

    @task
    def edits(params: dict[str, Any] | None = None) -> list[str]:
        """One edit prompt per market, in the markets' order."""
        params = params or {}
        return [params["change"].replace("{market}", market) for market in params["markets"]]

    approved = GrokVideoGenerateOperator(
        task_id="approved",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.approved }}",
        duration=8,  # xAI edits sources of at most 8.7 s
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    )
    edit = GrokVideoEditOperator.partial(
        task_id="edit",
        conn_id="{{ params.conn_id }}",
        video_url=approved.output,
        max_cost_usd="{{ params.max_cost_usd }}",
        map_index_template=MARKET,
        **WAIT,
    ).expand(prompt=edits())
    download = GrokVideoDownloadOperator.partial(
        task_id="download",
        destination=DESTINATION,
        file_name="variant-{generation_id}.mp4",
        map_index_template=MARKET,
    ).expand(generation=edit.output)
