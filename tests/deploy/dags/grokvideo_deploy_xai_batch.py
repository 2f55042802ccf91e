"""The batch deployment scenario's DAG (``tests/deploy/test_batch_deployment.py``): many videos
in ONE xAI batch (:class:`GrokVideoBatchOperator`) on the xAI key the emulator limits, stored
in a local folder that both Celery workers see, and a ``report`` of what came back and what
it cost against the interactive estimate.

The run's ``conf`` sets ``videos`` (default 500), the emulated jobs' length (spread between
``min_seconds`` and ``max_seconds`` by the ``[emulator:seconds=N]`` marker, so results come
out over a span and out of order) and ``destination`` (a folder URI).  The batch task has
``retries``: a worker killed while it stores results is retried, and the retry re-attaches to
the batch recorded in the task state store.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_grokvideo.operators.batch import GrokVideoBatchOperator

CONN_ID = "grokvideo_xai_default"
#: Seconds between two counter reads: the jobs last a minute or two, not hours.
POLL_INTERVAL = 5.0

with DAG(
    dag_id="grokvideo_deploy_xai_batch",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    params={"videos": 500, "min_seconds": 10, "max_seconds": 130, "destination": ""},
    tags=["grokvideo", "deploy-test"],
) as dag:

    @task
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One request per video, each job lasting between min_seconds and max_seconds."""
        conf = params or {}
        videos = int(conf.get("videos", 500))
        low, high = int(conf.get("min_seconds", 10)), int(conf.get("max_seconds", 130))
        return [
            {
                "prompt": f"deploy batch video {k} [emulator:seconds="
                f"{low + (k * 7919) % (high - low + 1)}]",  # spread, not ordered by k
                "duration": 6,
                # Priced as billed: without it the estimate assumes the dearest resolution.
                "resolution": "480p",
            }
            for k in range(videos)
        ]

    requests = plan()
    batch = GrokVideoBatchOperator(
        task_id="batch",
        conn_id=CONN_ID,
        requests=requests,
        destination="{{ params.destination }}",
        poll_interval=POLL_INTERVAL,
        timeout=3600,
        # Safe: a retry re-attaches to its batch and adds only what the batch lacks.
        retries=2,
        retry_delay=timedelta(seconds=2),
    )

    @task
    def report(results: list[dict[str, Any]], asked: list[dict[str, Any]]) -> dict[str, Any]:
        """What came back, what was billed, and what the same videos would have cost
        interactively (the price table's estimate)."""
        from airflow_provider_grokvideo.hooks import get_video_hook

        hook = get_video_hook(CONN_ID)
        interactive = 0
        for request in asked:
            estimate = hook.estimate_cost(
                request["prompt"], duration=request["duration"], resolution=request["resolution"]
            )
            interactive += estimate.cost_ticks if estimate is not None else 0
        uris = [uri for entry in results for uri in entry["uris"]]
        return {
            "videos": len(results),
            "succeeded": sum(entry["status"] == "succeeded" for entry in results),
            "expired": sum(entry.get("error_code") == "url_expired" for entry in results),
            "stored": len(uris),
            "distinct_files": len(set(uris)),
            "batch_ids": sorted({entry["batch_id"] for entry in results}),
            "billed_ticks": sum(entry["cost_ticks"] or 0 for entry in results),
            "interactive_estimate_ticks": interactive,
        }

    report(batch.output, requests)
