"""Every example DAG, run for real with ``dag.test()`` (trigger executed) against the emulator."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

LEAK_KEY = "sk-grokvideo-LEAKCHECK-7f3a9c0d51"

pytestmark = pytest.mark.usefixtures("airflow_db")

FAST_POLLS = {
    "GROKVIDEO_POLL_INTERVAL": "0.3",
    "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
    "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
    "GROKVIDEO_WAIT_TIMEOUT": "60",
}


@pytest.fixture(scope="module")
def videos_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the main example's ``download`` task stores the videos in these tests."""
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="module")
def load_dag(videos_folder: Path) -> Iterator[Any]:
    """Import an example DAG file (with fast poll settings) and return its DAG."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAST_POLLS.items():
            patch.setenv(name, value)
        patch.setenv("GROKVIDEO_DESTINATION", videos_folder.as_uri())

        def load(name: str) -> Any:
            spec = importlib.util.spec_from_file_location(name, EXAMPLE_DAGS / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module: ModuleType = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.dag

        yield load


def connect(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, conn_id: str, upstream: str
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", emulator.airflow_connection(upstream))


@pytest.fixture
def trigger_record(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[Any]]:
    """What every trigger run in this test was built with and fired.

    The test's emulators hold every job until the first trigger runs: a job that a busy
    machine lets finish before the wait is deferred would be answered by the check before
    deferring, and the trigger this test looks at would never run."""
    from airflow_provider_grokvideo import compat

    # Where this Airflow cannot defer (3.1 beside cryptography 51, the floor canary) no trigger
    # runs to release them: the waits poll on the worker, and nothing is held.
    held = [
        request.getfixturevalue(name)
        for name in ("emulator", "leak_emulator")
        if name in request.fixturenames and not compat.deferral_blocked()
    ]
    for emulator in held:
        emulator.hold()
        request.addfinalizer(emulator.release)  # a failure must not stall the next test
    record: dict[str, list[Any]] = {"kwargs": [], "events": []}
    original = GrokVideoTrigger.wait

    async def wait(self: GrokVideoTrigger) -> dict[str, Any]:
        for emulator in held:
            emulator.release()
        record["kwargs"].append(self.serialize()[1])
        payload = await original(self)
        record["events"].append(payload)
        return payload

    monkeypatch.setattr(GrokVideoTrigger, "wait", wait)
    return record


def states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}


def xcoms(run: Any, task_id: str | None = None, key: str | None = "return_value") -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key=key)
        rows = session.scalars(query).all()
        return [XComModel.deserialize_value(row) for row in sorted(rows, key=lambda r: r.map_index)]


def submissions(emulator: Emulator) -> int:
    return sum(u["submissions"] for u in emulator.stats()["upstreams"].values())


# -- the main example, on every upstream ------------------------------------------------------


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_text_to_video(
    load_dag: Any,
    emulator: Emulator,
    trigger_record: dict[str, list[Any]],
    upstream: str,
    videos_folder: Path,
) -> None:
    dag = load_dag("example_grokvideo_text_to_video")
    run = dag.test(run_conf={"conn_id": f"grokvideo_{upstream}_default"})
    assert str(run.state) == "success", states(run)
    generation_id = xcoms(run, "generate")[0]
    [video] = xcoms(run, "wait")
    assert video["status"] == "succeeded"
    assert video["generation_id"] == generation_id
    assert video["video_urls"] and video["video_urls"][0].startswith(emulator.url)
    # The trigger really ran, once, and fired one event.
    assert [event["status"] for event in trigger_record["events"]] == ["succeeded"]
    assert emulator.stats()["upstreams"][upstream]["submissions"] == 1
    assert submissions(emulator) == 1
    # The video landed on disk, complete, and the key never reached the CDN.
    [stored] = [uri for uri in xcoms(run, "download")[0] if uri.endswith(".mp4")]
    assert stored == (videos_folder / f"{generation_id}.mp4").as_uri()
    assert (videos_folder / f"{generation_id}.mp4").read_bytes()[4:8] == b"ftyp"
    assert emulator.stats()["cdn_requests_with_authorization"] == 0


def test_text_to_video_emits_the_asset_event_the_consumer_dag_runs_on(
    load_dag: Any, emulator: Emulator
) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = load_dag("example_grokvideo_text_to_video").test()
    assert str(run.state) == "success", states(run)
    [video_uri] = [uri for uri in xcoms(run, "download")[0] if uri.endswith(".mp4")]
    with create_session() as session:
        [event] = session.scalars(
            select(AssetEvent).where(AssetEvent.source_run_id == run.run_id)
        ).all()
        assert (event.asset.name, event.asset.uri) == (
            "grokvideo_videos",
            "file:///grokvideo/videos",
        )
        assert event.source_task_id == "download" and event.extra["videos"] == [video_uri]
        # The scheduler's queue now holds a run of the consumer DAG, waiting on this Asset.
        asset_id = session.scalar(
            select(AssetModel.id).where(AssetModel.name == "grokvideo_videos")
        )
        queued = session.scalars(
            select(AssetDagRunQueue.target_dag_id).where(AssetDagRunQueue.asset_id == asset_id)
        ).all()
        # (dag.test() syncs every DAG of the DAGs folder, the consumer example among them.)
        assert "example_grokvideo_asset_consumer" in queued


def test_text_to_video_failed_generation_fails_with_the_upstream_message(
    load_dag: Any,
    emulator: Emulator,
    trigger_record: dict[str, list[Any]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    dag = load_dag("example_grokvideo_text_to_video")
    # Where the trigger ends the task, a failed generation takes Airflow's retry rule: the
    # retry reads the same id once and fails. Its 30 s delay would only slow the suite.
    dag.get_task("wait").retry_delay = timedelta(0)
    run = dag.test(run_conf={"prompt": "a stormy sea [emulator:fail]"})
    assert str(run.state) == "failed"
    task_states = states(run)
    assert task_states[("generate", -1)] == "success"
    assert task_states[("wait", -1)] == "failed"
    [event] = trigger_record["events"]
    assert event["status"] == "failed"
    upstream_message = event["generation"]["error_message"]
    assert upstream_message
    out, err = capfd.readouterr()
    assert f"GrokVideoGenerationFailed: generation {event['generation_id']} failed" in out + err
    assert upstream_message in out + err
    assert submissions(emulator) == 1


def test_text_to_video_through_429_and_5xx(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]]
) -> None:
    emulator.inject("429", count=1, endpoint="submit", retry_after=0.2)
    emulator.inject("429", count=2, endpoint="status", retry_after=0.3)
    for fault in ("500", "502", "503"):
        emulator.inject(fault, count=1, endpoint="status")
    dag = load_dag("example_grokvideo_text_to_video")
    run = dag.test()
    assert str(run.state) == "success", states(run)
    assert xcoms(run, "wait")[0]["status"] == "succeeded"
    stats = emulator.stats()
    assert stats["faults_pending"] == []
    assert submissions(emulator) == 1


# -- the other examples -----------------------------------------------------------------------


def test_image_to_video(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]]
) -> None:
    dag = load_dag("example_grokvideo_image_to_video")
    run = dag.test(run_conf={"conn_id": "grokvideo_xai_default"})
    assert str(run.state) == "success", states(run)
    [video] = xcoms(run, "wait")
    assert video["status"] == "succeeded"
    assert video["video_urls"][0].startswith(emulator.url)
    assert emulator.stats()["upstreams"]["xai"]["submissions"] == 1
    assert submissions(emulator) == 1


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_generate_and_wait_in_one_task(
    load_dag: Any,
    emulator: Emulator,
    trigger_record: dict[str, list[Any]],
    upstream: str,
    videos_folder: Path,
) -> None:
    dag = load_dag("example_grokvideo_generate_and_wait")
    run = dag.test(run_conf={"conn_id": f"grokvideo_{upstream}_default"})
    assert str(run.state) == "success", states(run)
    [video] = xcoms(run, "generate_and_wait")
    [record] = xcoms(run, "generate_and_wait", key="grokvideo")
    generation_id = record["generation_id"]
    assert video["status"] == "succeeded" and video["generation_id"] == generation_id
    assert [event["status"] for event in trigger_record["events"]] == ["succeeded"]
    assert submissions(emulator) == 1
    [stored] = xcoms(run, "download")[0]
    assert stored == (videos_folder / f"{generation_id}.mp4").as_uri()


def test_daily_batch_maps_prompts_over_generate_wait_and_download(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]], videos_folder: Path
) -> None:
    products = ["red sneakers", "steel bottle", "rain jacket", "desk lamp"]
    dag = load_dag("example_grokvideo_daily_batch")
    assert dag.schedule == "@daily" and dag.catchup is False
    run = dag.test(run_conf={"conn_id": "grokvideo_mountsea_default", "products": products})
    assert str(run.state) == "success", states(run)
    ids = xcoms(run, "generate")
    videos = xcoms(run, "wait")
    assert len(ids) == len(videos) == len(products)
    assert [video["generation_id"] for video in videos] == ids
    assert all(video["status"] == "succeeded" and video["video_urls"] for video in videos)
    [report] = xcoms(run, "report")
    assert len(report) == len(products)
    # Mapped task instances are named after their product, and every video is stored.
    for task_id in ("generate", "wait", "download"):
        names = sorted(
            ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == task_id
        )
        assert names == sorted(products), (task_id, names)
    stored = xcoms(run, "download")
    day = run.run_after.strftime("%Y-%m-%d")
    assert len(stored) == len(products)
    for uris, video in zip(stored, videos, strict=True):
        assert uris[0] == (videos_folder / day / f"{video['generation_id']}.mp4").as_uri()
        assert len(uris) == (2 if video["thumbnail_url"] else 1)  # Mountsea gives no thumbnail
    # A wait whose video had already ended finished on the worker (check-before-defer).
    assert len(trigger_record["events"]) <= len(products)
    assert all(event["status"] == "succeeded" for event in trigger_record["events"])
    assert emulator.stats()["upstreams"]["mountsea"]["submissions"] == len(products)
    assert submissions(emulator) == len(products)
    # Mountsea reports no cost and publishes no price: counted, with no total to invent.
    [costs] = xcoms(run, "cost_report")
    assert costs == {
        "videos": len(products),
        "total_cost_usd": "0",
        "cost_sources": [],
        "videos_without_cost": len(products),
    }


def test_daily_batch_reports_the_billed_total_on_xai(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]]
) -> None:
    products = ["red sneakers", "steel bottle", "rain jacket"]
    run = load_dag("example_grokvideo_daily_batch").test(
        run_conf={"conn_id": "grokvideo_xai_default", "products": products}
    )
    assert str(run.state) == "success", states(run)
    videos = xcoms(run, "wait")
    # 6 s each, no resolution asked: the emulator bills xAI's 480p price, $0.05/s.
    assert [(v["cost_ticks"], v["cost_usd"], v["cost_source"]) for v in videos] == [
        (3_000_000_000, "0.3", "billed")
    ] * len(products)
    [costs] = xcoms(run, "cost_report")
    assert costs == {
        "videos": 3,
        "total_cost_usd": "0.9",
        "cost_sources": ["billed"],
        "videos_without_cost": 0,
    }


def test_daily_batch_reports_the_estimated_total_with_connection_prices(
    load_dag: Any,
    emulator: Emulator,
    trigger_record: dict[str, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"prices": {"grok-imagine-1.0-video-apimart": {"480p": 0.011, "720p": 0.02}}}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_PRICED", json.dumps(conn))
    products = ["red sneakers", "steel bottle"]
    run = load_dag("example_grokvideo_daily_batch").test(
        run_conf={"conn_id": "grokvideo_priced", "products": products}
    )
    assert str(run.state) == "success", states(run)
    # xcompute's documented default quality is 480p: 6 s x $0.011.
    records = xcoms(run, "generate", key="grokvideo")
    assert [r["cost_estimate"]["cost_usd"] for r in records] == ["0.066", "0.066"]
    assert [r["cost_usd"] for r in records] == [0.066, 0.066]
    videos = xcoms(run, "wait")
    assert [(v["cost_usd"], v["cost_source"]) for v in videos] == [("0.066", "estimated")] * 2
    [costs] = xcoms(run, "cost_report")
    assert costs["total_cost_usd"] == "0.132" and costs["cost_sources"] == ["estimated"]


# -- the API key goes nowhere but the API -----------------------------------------------------


@pytest.fixture(scope="module")
def leak_emulator(grokvideo_emulator_session: Emulator) -> Iterator[Emulator]:
    # Jobs as long as the suite's emulator's (longer on the floor job), so the wait defers and
    # the trigger's kwargs and event are there to inspect.
    with Emulator(
        api_key=LEAK_KEY, job_seconds=grokvideo_emulator_session.app.job_seconds
    ) as emulator:
        yield emulator


def test_the_key_is_in_no_trigger_kwargs_event_xcom_or_log(
    load_dag: Any,
    leak_emulator: Emulator,
    airflow_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    trigger_record: dict[str, list[Any]],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    connect(monkeypatch, leak_emulator, "grokvideo_leakcheck", "xcompute")
    dag = load_dag("example_grokvideo_text_to_video")
    run = dag.test(run_conf={"conn_id": "grokvideo_leakcheck"})
    assert str(run.state) == "success", states(run)
    assert leak_emulator.stats()["upstreams"]["xcompute"]["auth_failures"] == 0

    assert trigger_record["kwargs"] and trigger_record["events"]
    assert LEAK_KEY not in json.dumps(trigger_record)
    everything_in_xcom = xcoms(run, key=None)
    assert everything_in_xcom
    assert LEAK_KEY not in json.dumps(everything_in_xcom, default=str)
    out, err = capfd.readouterr()
    assert "generation" in out + err  # the task logs were captured
    assert LEAK_KEY not in out + err
    assert LEAK_KEY not in caplog.text
    for log_file in (airflow_db / "logs").rglob("*") if (airflow_db / "logs").exists() else []:
        if log_file.is_file():
            assert LEAK_KEY not in log_file.read_text(errors="replace"), log_file


# -- chaining xAI's edits and extensions ------------------------------------------------------


def test_30_second_spot_generates_then_extends_twice_and_stores_it(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]], videos_folder: Path
) -> None:
    run = load_dag("example_grokvideo_30_second_spot").test()
    assert str(run.state) == "success", states(run)
    [opening] = xcoms(run, "opening")
    [middle] = xcoms(run, "extend_to_20s")
    [ending] = xcoms(run, "extend_to_30s")
    # Each step's source is the previous step's video; the lengths add up to 30 s.
    assert [v["duration"] for v in (opening, middle, ending)] == [10, 20, 30]
    assert all(v["status"] == "succeeded" for v in (opening, middle, ending))
    # Billed: 10 s generated, then 10 s added twice, at xAI's 480p price ($0.05/s).
    assert [v["cost_usd"] for v in (opening, middle, ending)] == ["0.5", "0.5", "0.5"]
    # The estimates before submitting: 10 s each (an extension by the seconds it adds).
    # The estimates (10 s per extension) are checked in operators/test_extend.py: after a
    # deferral the finished record replaces the submit record, and dag.test() resumes a task
    # with the event alone (airflow/sdk/definitions/dag.py sets next_kwargs to {"event": ...}),
    # dropping the defer kwargs that carry the estimate in a real deployment.
    stats = emulator.stats()["upstreams"]["xai"]
    assert stats["submissions"] == 3 and submissions(emulator) == 3
    jobs = [emulator.job(v["generation_id"]) for v in (middle, ending)]
    assert [job["video_duration"] for job in jobs] == [20, 30]
    assert all(event["status"] == "succeeded" for event in trigger_record["events"])
    [stored] = xcoms(run, "download")[0]
    assert stored == (videos_folder / f"spot-{ending['generation_id']}.mp4").as_uri()
    assert (videos_folder / f"spot-{ending['generation_id']}.mp4").read_bytes()[4:8] == b"ftyp"


def test_variants_maps_one_edit_per_market_over_the_approved_video(
    load_dag: Any, emulator: Emulator, trigger_record: dict[str, list[Any]], videos_folder: Path
) -> None:
    markets = ["Japan", "Brazil", "Germany", "Kenya"]
    run = load_dag("example_grokvideo_variants").test(run_conf={"markets": markets})
    assert str(run.state) == "success", states(run)
    [approved] = xcoms(run, "approved")
    variants = xcoms(run, "edit")
    assert len(variants) == len(markets)
    assert all(v["status"] == "succeeded" and v["duration"] == 8 for v in variants)
    # Every edit's source is the approved video (the emulator made it: its URL names its job).
    assert len({v["generation_id"] for v in variants}) == len(markets)
    names = sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "edit")
    assert names == sorted(markets)
    # Each edit estimated at its source's length (8 s, known from the approved video's XCom).
    # The estimates (the source's 8 s) are checked in operators/test_edit.py.
    assert submissions(emulator) == 1 + len(markets)
    stored = xcoms(run, "download")
    assert [uris[0] for uris in stored] == [
        (videos_folder / f"variant-{v['generation_id']}.mp4").as_uri() for v in variants
    ]
    assert approved["video_urls"][0].startswith(emulator.url)


def test_delivered_spot_lands_in_the_bucket_checked_and_on_the_page(
    load_dag: Any,
    emulator: Emulator,
    s3_bucket: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_grokvideo.plugins.generations import Filters, list_generations
    from airflow_provider_grokvideo.plugins.page import render_page

    bucket, client = s3_bucket
    monkeypatch.setenv("GROKVIDEO_SPOT_DESTINATION", f"s3://moto_s3@{bucket}/spots/spot.mp4")
    run = load_dag("example_grokvideo_delivered_spot").test(
        run_conf={"duration": 3, "prompt": "a latte [emulator:seconds=0.3]"}
    )
    assert str(run.state) == "success", states(run)
    [spot] = xcoms(run, "spot")
    delivered = spot["delivery"]["delivered"]
    assert spot["delivery"]["via"] == "upload_url" and delivered["matches"] is True
    assert (delivered["width"], delivered["height"], delivered["audio"]) == (720, 1280, True)
    body = client.get_object(Bucket=bucket, Key="spots/spot.mp4")["Body"].read()
    assert body[4:8] == b"ftyp" and len(body) == spot["delivery"]["size"]
    # The voice reached xAI as a preset voice, on Imagine 1.5, at its published price.
    assert spot["cost_usd"] == "0.24"
    with create_session() as session:
        page = list_generations(session, Filters(dag_id=run.dag_id))
    [generation] = page.generations
    assert generation.record["delivered"]["matches"] is True
    html = render_page(page, base="/grok-videos", dag_ids=[run.dag_id])
    assert 'class="badge badge-match"' in html and "720x1280" in html
