"""One xAI batch of ``GROKVIDEO_DEPLOY_BATCH_VIDEOS`` videos (500) in the distributed deployment
(CeleryExecutor on Redis and PostgreSQL, two Celery workers, two triggerers, the provider from
its wheel), on one xAI key limited to 1 request/s in the emulator and on its connection (with
the deployment's Redis as its shared budget), the result URLs' life shortened to
``GROKVIDEO_DEPLOY_BATCH_URL_SECONDS`` (120 s, xAI's is an hour) so that a result stored too
late is lost. While results come in, the triggerer holding the batch's trigger is SIGKILLed
(its peer takes it over) and then the Celery worker storing results, in the middle of a store
round (restarted a few seconds later): ``tests/deploy/xai_batch_scenario.py`` makes each
condition happen.

Every video is stored once as an MP4, in one batch, each request added once, no request
refused with 429, none lost to the URL expiry, although the URLs' life is shorter than the
span of the results (a task storing only at the batch's end would have lost some).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.airflow_deployment import Deployment
from deploy.conftest import reporter, say
from deploy.postgres import PostgresServer
from deploy.redis_server import RedisServer
from deploy.scenarios import distributed_deployment
from deploy.xai_batch_scenario import BATCH_API_DAG, XAI_RATE, run_xai_batch

pytestmark = pytest.mark.deploy

VIDEOS = int(os.environ.get("GROKVIDEO_DEPLOY_BATCH_VIDEOS", "500"))
URL_SECONDS = float(os.environ.get("GROKVIDEO_DEPLOY_BATCH_URL_SECONDS", "120"))
#: The jobs' length (seconds): results come out over two minutes, longer than a URL lives.
JOB_SECONDS = tuple(
    int(x) for x in os.environ.get("GROKVIDEO_DEPLOY_BATCH_JOB_SECONDS", "10-130").split("-")
)


@pytest.fixture(scope="module")
def batch_deployment(
    request: pytest.FixtureRequest,
    installed_provider: Path,
    postgres: PostgresServer,
    redis_server: RedisServer,
    deploy_root: Path,
) -> Iterator[Deployment]:
    with distributed_deployment(
        reporter(request), installed_provider, deploy_root, postgres, redis_server, XAI_RATE
    ) as deployment:
        deployment.wait_for_dags(BATCH_API_DAG)
        yield deployment


def test_one_batch_stores_every_video_through_a_triggerer_and_a_worker_killed(
    batch_deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    run = run_xai_batch(
        batch_deployment, VIDEOS, JOB_SECONDS, URL_SECONDS, lambda text: say(request, text)
    )
    say(request, f"deploy: xAI batch figures: {run.figures()}")
    assert run.state == "success", run.figures()
    report = run.report
    assert report["videos"] == report["succeeded"] == VIDEOS, report
    # Every video stored once: one file each, named by its request, an MP4.
    assert report["stored"] == report["distinct_files"] == run.files == VIDEOS, report
    assert not run.bad_files, run.bad_files[:5]
    assert run.lost_to_expiry == 0
    # One batch, each request added once, nothing cancelled.
    assert len(report["batch_ids"]) == 1 and run.batch_stats["creates"] == 1, run.batch_stats
    assert run.batch_stats["requests_added"] == VIDEOS, run.batch_stats
    assert run.batch_stats["cancels"] == 0, run.batch_stats
    assert run.xai_429 == 0, f"{run.xai_429} of {run.xai_requests} xAI requests refused (429)"
    # The conditions were made: both kills mid-way, the killed store round retried, and URLs
    # that live shorter than the results' span.
    assert 0 < run.stored_at_triggerer_kill < run.stored_at_worker_kill < VIDEOS
    assert run.kills_survived() == 2 and run.tries == 2, run.figures()
    assert run.lost_if_stored_at_end > 0, run.figures()
    assert run.worst_age < URL_SECONDS
    # Billed at batch prices: less than the interactive estimate.
    assert 0 < report["billed_ticks"] < report["interactive_estimate_ticks"], report
