"""A person picks the video that goes on: four variants, one approved, only it extended.

``generate`` makes four variants of one idea (mapped, each waited for in the triggerer) and
``store`` keeps every candidate under ``candidates/``; ``review`` (``GrokVideoReviewOperator``,
Airflow's human-in-the-loop task) asks a person which one goes on, in Airflow's "Required
actions" form, where each candidate shows its prompt, length, cost and a link that plays it on
the "Grok videos" page.  Only the approved one is ``extend``-ed (xAI's extensions) and stored
under ``approved/``; "None of them" skips the rest.  The reviewer may answer in the UI or through
the REST API::

    PATCH /api/v2/dags/example_grokvideo_review/dagRuns/<run>/taskInstances/review/-1/hitlDetails
    {"chosen_options": ["2. ... (6 s, $0.30)"], "params_input": {"note": "the warm one"}}
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
from airflow_provider_grokvideo.operators.extend import GrokVideoExtendOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.operators.review import GrokVideoReviewOperator

CONN_ID = os.environ.get("GROKVIDEO_XAI_CONN_ID", "grokvideo_xai_default")
WAIT = {
    "wait_for_completion": True,
    "poll_interval": float(os.environ.get("GROKVIDEO_POLL_INTERVAL", "20")),
    "min_poll_interval": float(os.environ.get("GROKVIDEO_MIN_POLL_INTERVAL", "5")),
    "max_poll_interval": float(os.environ.get("GROKVIDEO_MAX_POLL_INTERVAL", "120")),
    "timeout": float(os.environ.get("GROKVIDEO_WAIT_TIMEOUT", "3600")),
}
DESTINATION = os.environ.get(
    "GROKVIDEO_DESTINATION", (Path(tempfile.gettempdir()) / "grokvideo-videos").as_uri()
)

with DAG(
    dag_id="example_grokvideo_review",
    description="Four variants, a person approves one, only it is extended and stored",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
    params={
        "conn_id": Param(CONN_ID, type="string", description="An xAI connection."),
        "idea": Param(
            "A paper lantern drifting over a night market",
            type="string",
            minLength=1,
            description="What every variant shows.",
        ),
        "styles": Param(
            ["warm film grain", "cool blue hour", "hand-drawn animation", "macro close-up"],
            type="array",
            minItems=1,
            description="One variant per style.",
        ),
        "next": Param(
            "The lantern rises above the rooftops into the stars",
            type="string",
            description="What the approved video's extension shows.",
        ),
        "max_cost_usd": Param(1.0, type="number", description="Refuse any video dearer."),
    },
) as dag:

    @task
    def variants(params: dict[str, Any] | None = None) -> list[str]:
        """One prompt per style."""
        params = params or {}
        return [f"{params['idea']}, {style}" for style in params["styles"]]

    generate = GrokVideoGenerateOperator.partial(
        task_id="generate",
        conn_id="{{ params.conn_id }}",
        duration=6,
        resolution="480p",
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    ).expand(prompt=variants())
    store = GrokVideoDownloadOperator.partial(
        task_id="store", destination=DESTINATION + "/candidates"
    ).expand(generation=generate.output)
    review = GrokVideoReviewOperator(
        task_id="review",
        generations=generate.output,
        approve="one",
        subject="Which lantern video goes on?",
        response_timeout=timedelta(days=2),
        defaults="None of them",  # no answer in two days: nothing is extended
    )
    store >> review
    extend = GrokVideoExtendOperator.partial(
        task_id="extend",
        conn_id="{{ params.conn_id }}",
        prompt="{{ params.next }}",
        duration=4,
        max_cost_usd="{{ params.max_cost_usd }}",
        **WAIT,
    ).expand(video_url=review.output)
    GrokVideoDownloadOperator.partial(
        task_id="store_approved", destination=DESTINATION + "/approved"
    ).expand(generation=extend.output)
