"""The batch example DAG, run for real with ``dag.test()`` (trigger executed) against the
emulator: half-price videos stored, a cost report, and no video lost to a shortened URL life."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo.emulator import Emulator

EXAMPLE = EXAMPLE_DAGS
pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batch-videos")


@pytest.fixture(scope="module")
def dag(videos: Path) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GROKVIDEO_BATCH_POLL_INTERVAL", "0.2")
        patch.setenv("GROKVIDEO_DESTINATION", videos.as_uri())
        name = "example_grokvideo_batch_night_run"
        spec = importlib.util.spec_from_file_location(name, EXAMPLE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module.dag


def xcom(run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value"
        )
        (row,) = session.scalars(query).all()
        return XComModel.deserialize_value(row)


def test_the_night_run_stores_every_video_and_reports_the_billed_cost(
    dag: Any, emulator: Emulator, videos: Path
) -> None:
    run = dag.test(run_conf={"products": ["red sneakers", "steel bottle"]})
    assert str(run.state) == "success"
    results = xcom(run, "batch")
    assert [r["status"] for r in results] == ["succeeded", "succeeded"]
    # 6 s at the emulator's 480p price, $0.05/s, half off: $0.15 each, billed.
    assert [r["cost_usd"] for r in results] == ["0.15", "0.15"]
    report = xcom(run, "cost_report")
    assert report["videos"] == 2 and report["billed_usd"] == "0.30"
    for uri in report["files"]:
        path = Path(uri.removeprefix("file://"))
        assert path.is_relative_to(videos) and path.read_bytes()[4:8] == b"ftyp"
    stats = emulator.stats()
    assert stats["xai_batches"]["creates"] == 1
    # No request of the batch went through the interactive API (nor its rate limit).
    assert stats["upstreams"]["xai"]["submissions"] == 0


def test_a_result_url_shorter_than_the_batch_loses_no_video(dag: Any, emulator: Emulator) -> None:
    """Results ready over seven seconds, each URL alive for two: waiting for the whole batch
    would lose the first ones; the night run stores each as it comes."""
    emulator.set_xai_batch_url_seconds(2)
    products = [f"product {i} [emulator:seconds={s}]" for i, s in enumerate((0.5, 2, 4, 7))]
    run = dag.test(run_conf={"products": products})
    assert str(run.state) == "success"
    results = xcom(run, "batch")
    assert [r["status"] for r in results] == ["succeeded"] * 4
    assert all(len(r["uris"]) == 1 for r in results)


def test_a_retry_reattaches_to_the_same_batch(dag: Any, emulator: Emulator) -> None:
    """The first try's first download fails (a CDN 500) after the batch was made and filled:
    the retry re-attaches, adds nothing and stores every video; one batch."""
    from datetime import timedelta

    emulator.inject("500", upstream="xai", endpoint="cdn", count=1)
    dag.get_task("batch").retry_delay = timedelta(0)  # the example waits 5 minutes
    run = dag.test(run_conf={"products": ["a", "b", "c"]})
    assert str(run.state) == "success"
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "batch"]
    assert ti.try_number == 2
    stats = emulator.stats()["xai_batches"]
    assert (stats["creates"], stats["adds"], stats["requests_added"]) == (1, 1, 3)
    assert all(len(r["uris"]) == 1 for r in xcom(run, "batch"))
