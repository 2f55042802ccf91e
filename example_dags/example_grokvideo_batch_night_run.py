"""Tonight's product spots at half the price: one xAI batch, every video stored, a cost report.

``prompts`` builds tonight's requests from the ``products`` param; ``batch``
(:class:`~airflow_provider_grokvideo.operators.batch.GrokVideoBatchOperator`) sends them as
one xAI batch (billed at batch prices, outside the 1 request/s rate limit, finished "typically
within 24 hours"), waits in the triggerer and stores each video under
``GROKVIDEO_DESTINATION/<date>/`` as soon as its result is listed: **a batch result's URL
expires one hour after the result is ready**, so the task never waits for the whole batch to
store what is there.  ``cost_report`` adds up what was billed.

**Schedule: every night at 01:00 UTC, one run at a time, no catch-up; every run pays for one
video per product** (at batch prices; ``max_cost_usd`` refuses a batch whose estimate is
higher, before anything is sent).  To try it, trigger it while it stays paused, with few
products.  Connection: ``GROKVIDEO_BATCH_CONN_ID`` (default ``grokvideo_xai_default``): an xAI
connection, the only upstream with a Batch API.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_grokvideo.operators.batch import GrokVideoBatchOperator

CONN_ID = os.environ.get("GROKVIDEO_BATCH_CONN_ID", "grokvideo_xai_default")
POLL_INTERVAL = float(os.environ.get("GROKVIDEO_BATCH_POLL_INTERVAL", "60"))
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)

with DAG(
    dag_id="example_grokvideo_batch_night_run",
    description="One xAI batch of product spots per night, stored within the hour",
    schedule="0 1 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "grokvideo", "batch"],
    doc_md=__doc__,
    params={
        "products": Param(
            ["trail running shoes", "insulated water bottle", "waterproof backpack"],
            type="array",
            minItems=1,
            description="One video per product.",
        ),
        "style": Param("bright product showcase, smooth camera orbit", type="string"),
        "max_cost_usd": Param(5, type="number", description="Cap on the batch's estimate."),
    },
) as dag:

    @task
    def prompts(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Tonight's requests: the neutral parameters of one video per product."""
        params = params or {}
        style = params.get("style", "")
        return [
            {"prompt": f"{product}: {style}".strip(": "), "duration": 6, "aspect_ratio": "9:16"}
            for product in params["products"]
        ]

    batch = GrokVideoBatchOperator(
        task_id="batch",
        conn_id=CONN_ID,
        requests=prompts(),
        destination=DESTINATION + "/{{ ds }}",
        max_cost_usd="{{ params.max_cost_usd }}",
        poll_interval=POLL_INTERVAL,
        retries=2,  # safe: a retry re-attaches to its batch and adds only what it lacks
    )

    @task
    def cost_report(results: list[dict[str, Any]]) -> dict[str, Any]:
        """What the night cost (billed by xAI) and what was stored."""
        billed = sum(Decimal(r["cost_usd"]) for r in results if r.get("cost_usd"))
        stored = [uri for r in results for uri in r["uris"]]
        report = {"videos": len(stored), "billed_usd": str(billed), "files": stored}
        print(f"{len(stored)} video(s) stored, billed ${billed}")
        return report

    cost_report(batch.output)
