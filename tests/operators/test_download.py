"""GrokVideoDownloadOperator against the emulator over real sockets.

Videos come from real emulator jobs (created through its raw xcompute API).  The transfer path's
own checks, with bodies the emulator cannot produce, are in ``test_video_download.py``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from airflow.sdk import Asset, AssetAll
from airflow.sdk.execution_time.context import OutletEventAccessors
from download_support import (
    SAMPLE_JPG,
    SAMPLE_MP4,
    cdn_counters,
    files_under,
    finished_generation,
    finished_task,
    generation_from_task,
)
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo.delivery.download import (
    InvalidDownloadInput,
    VideoDownloadError,
    VideoURLExpired,
    download_file,
    format_expiry,
    make_download_client,
)
from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator

VIDEOS_ASSET = Asset(name="grokvideo_videos", uri="file:///grokvideo/videos")


def run_operator(operator: GrokVideoDownloadOperator) -> tuple[list[str], OutletEventAccessors]:
    """``execute()`` with the minimal context the operator reads (its outlet events)."""
    events = OutletEventAccessors()
    result = operator.execute(cast(Any, {"outlet_events": events}))
    return result, events


def make_operator(
    generation: Any, destination: Path | str, **kwargs: Any
) -> GrokVideoDownloadOperator:
    dest = destination.as_uri() if isinstance(destination, Path) else destination
    return GrokVideoDownloadOperator(
        task_id="download", generation=generation, destination=dest, **kwargs
    )


# ------------------------------------------------------------------------------------------
# The real download path, against the emulator


def test_video_lands_with_the_right_bytes_and_no_credentials(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    emu = grokvideo_emulator
    generation = finished_generation(emu)
    uris, events = run_operator(make_operator(generation, tmp_path / "videos"))

    target = tmp_path / "videos" / f"{generation['generation_id']}.mp4"
    assert uris == [target.as_uri()]
    assert target.read_bytes() == SAMPLE_MP4.read_bytes()
    assert files_under(tmp_path) == [f"videos/{target.name}"]  # no temporary file left
    assert len(events) == 0  # no outlets, no asset events
    requests, with_auth, sent = cdn_counters(emu)
    assert requests == 1 and sent == SAMPLE_MP4.stat().st_size
    assert with_auth == 0

    # Control: the emulator does count an Authorization header when one reaches the CDN.
    httpx.get(generation["video_urls"][0], headers={"Authorization": "Bearer x"})
    assert cdn_counters(emu)[1] == 1


def test_outlet_asset_event_extra_carries_the_stored_uris(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    generation = finished_generation(grokvideo_emulator)
    operator = make_operator(generation, tmp_path, outlets=[VIDEOS_ASSET])
    uris, events = run_operator(operator)
    extra = events[VIDEOS_ASSET].extra
    assert extra["generation_id"] == generation["generation_id"]
    assert extra["videos"] == uris == extra["uris"]
    assert extra["thumbnail"] is None
    assert extra["files"] == [
        {"uri": uris[0], "size": SAMPLE_MP4.stat().st_size, "kind": "video", "reused": False}
    ]
    json.dumps(extra)  # plain JSON, as an asset event's extra must be
    # xcompute bills nothing it reports, and no estimate was given: the cost is unknown.
    assert (extra["cost_ticks"], extra["cost_usd"], extra["cost_source"]) == (None, None, None)


@pytest.mark.parametrize("render", [dict, json.dumps], ids=["xcom", "json-text"])
def test_outlet_asset_event_names_the_connection_of_the_waits_result(
    grokvideo_emulator: Any, tmp_path: Path, render: Any
) -> None:
    # The wait's result, as its XCom or rendered by a template: the connection survives both.
    generation = {**finished_generation(grokvideo_emulator), "conn_id": "grokvideo_made_it"}
    operator = make_operator(render(generation), tmp_path, outlets=[VIDEOS_ASSET])
    _, events = run_operator(operator)
    assert events[VIDEOS_ASSET].extra["conn_id"] == "grokvideo_made_it"


@pytest.mark.parametrize("source", ["billed", "estimated"])
def test_outlet_asset_event_extra_carries_the_cost(
    grokvideo_emulator: Any, tmp_path: Path, source: str
) -> None:
    generation = {**finished_generation(grokvideo_emulator), "cost_source": source}
    generation["cost_ticks"] = 4_200_000_000
    del generation["cost_usd"]
    _, events = run_operator(make_operator(generation, tmp_path, outlets=[VIDEOS_ASSET]))
    extra = events[VIDEOS_ASSET].extra
    assert (extra["cost_ticks"], extra["cost_usd"], extra["cost_source"]) == (
        4_200_000_000,
        "0.42",
        source,
    )


def test_thumbnail_when_asked(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator)
    gid = generation["generation_id"]
    operator = make_operator(generation, tmp_path, include_thumbnail=True, outlets=[VIDEOS_ASSET])
    uris, events = run_operator(operator)
    assert uris == [
        (tmp_path / f"{gid}.mp4").as_uri(),
        (tmp_path / f"{gid}-thumbnail.jpg").as_uri(),
    ]
    assert (tmp_path / f"{gid}-thumbnail.jpg").read_bytes() == SAMPLE_JPG.read_bytes()
    assert events[VIDEOS_ASSET].extra["thumbnail"] == uris[1]
    assert events[VIDEOS_ASSET].extra["videos"] == uris[:1]


def test_several_videos_and_templated_names(grokvideo_emulator: Any, tmp_path: Path) -> None:
    first = finished_generation(grokvideo_emulator)
    second = finished_generation(grokvideo_emulator, "a second take")
    generation = {**first, "video_urls": first["video_urls"] + second["video_urls"]}
    gid = first["generation_id"]

    uris, _ = run_operator(make_operator(generation, tmp_path / "default"))
    assert [Path(u).name for u in uris] == [f"{gid}-1.mp4", f"{gid}-2.mp4"]

    uris, _ = run_operator(
        make_operator(generation, tmp_path / "named", file_name="day/{generation_id}_take{n}")
    )
    assert uris == [
        (tmp_path / "named" / "day" / f"{gid}_take1.mp4").as_uri(),
        (tmp_path / "named" / "day" / f"{gid}_take2.mp4").as_uri(),
    ]
    assert all(Path(u[len("file://") :]).read_bytes() == SAMPLE_MP4.read_bytes() for u in uris)


def test_generation_as_json_string(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator)
    uris, _ = run_operator(make_operator(json.dumps(generation), tmp_path))
    assert Path(uris[0][len("file://") :]).read_bytes() == SAMPLE_MP4.read_bytes()


def test_cut_download_leaves_nothing_and_fails_clearly(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    generation = finished_generation(grokvideo_emulator, "fox [emulator:cut-download]")
    with pytest.raises(VideoDownloadError) as caught:
        run_operator(make_operator(generation, tmp_path))
    message = str(caught.value)
    assert "127.0.0.1" in message
    assert "cut off" in message or "incomplete" in message
    assert f"of {SAMPLE_MP4.stat().st_size} bytes" in message
    assert not isinstance(caught.value, VideoURLExpired)
    assert files_under(tmp_path) == []  # neither the final name nor the temporary one


def test_cut_large_download_leaves_nothing(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(
        grokvideo_emulator, "fox [emulator:cut-download] [emulator:video-mb=8]"
    )
    with pytest.raises(VideoDownloadError, match=r"127\.0\.0\.1.*of 8388608 bytes"):
        run_operator(make_operator(generation, tmp_path))
    assert files_under(tmp_path) == []


def test_rerun_skips_a_complete_file(grokvideo_emulator: Any, tmp_path: Path) -> None:
    emu = grokvideo_emulator
    generation = finished_generation(emu)
    first, _ = run_operator(make_operator(generation, tmp_path, outlets=[VIDEOS_ASSET]))
    target = Path(first[0][len("file://") :])
    mtime = target.stat().st_mtime_ns
    requests, _, sent = cdn_counters(emu)
    assert (requests, sent) == (1, SAMPLE_MP4.stat().st_size)

    second, events = run_operator(make_operator(generation, tmp_path, outlets=[VIDEOS_ASSET]))
    assert second == first
    assert target.stat().st_mtime_ns == mtime
    assert events[VIDEOS_ASSET].extra["files"][0]["reused"] is True
    # One more CDN request (a HEAD for the size), no body: no second GET.
    requests_after, with_auth, sent_after = cdn_counters(emu)
    assert (requests_after, sent_after, with_auth) == (2, sent, 0)


def test_rerun_checks_with_a_head_only(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator)
    url = generation["video_urls"][0]
    target = (tmp_path / "v.mp4").as_uri()
    methods: list[str] = []

    def record(request: httpx.Request) -> None:
        methods.append(request.method)

    with make_download_client() as client:
        client.event_hooks["request"] = [record]
        stored = download_file(url, target, client=client)
        again = download_file(url, target, client=client)
        assert methods == ["GET", "HEAD"]
        assert (stored.reused, again.reused) == (False, True)
        assert again.size == stored.size == SAMPLE_MP4.stat().st_size

        # A file of the wrong size is not trusted: it is downloaded again.
        (tmp_path / "v.mp4").write_bytes(SAMPLE_MP4.read_bytes()[:100])
        fixed = download_file(url, target, client=client)
        assert fixed.reused is False
        assert (tmp_path / "v.mp4").read_bytes() == SAMPLE_MP4.read_bytes()
        assert methods == ["GET", "HEAD", "HEAD", "GET"]

        # overwrite=True always downloads.
        assert download_file(url, target, client=client, overwrite=True).reused is False
        assert methods[-1] == "GET"


def test_expired_by_expires_at_fails_before_any_request(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    generation = finished_generation(grokvideo_emulator)
    generation["expires_at"] = past = time.time() - 3600
    with pytest.raises(VideoURLExpired) as caught:
        run_operator(make_operator(generation, tmp_path))
    message = str(caught.value)
    assert "expired" in message and format_expiry(past) in message and "127.0.0.1" in message
    assert cdn_counters(grokvideo_emulator)[0] == 0
    assert files_under(tmp_path) == []


def test_expired_url_from_the_upstream_fails_with_its_expiry(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    # The emulator's [emulator:url-expired]: expires_at in the past, and the CDN answers 410.
    task = finished_task(grokvideo_emulator, "fox [emulator:url-expired]")
    generation = generation_from_task(task)
    assert generation["expires_at"] < time.time()
    with pytest.raises(
        VideoURLExpired, match=f"expired at {format_expiry(generation['expires_at'])}"
    ):
        run_operator(make_operator(generation, tmp_path))
    assert cdn_counters(grokvideo_emulator)[0] == 0

    # Without expires_at the CDN's own answer (410 Gone) says it.
    generation["expires_at"] = None
    with pytest.raises(VideoURLExpired) as caught:
        run_operator(make_operator(generation, tmp_path))
    message = str(caught.value)
    assert "has expired" in message and "HTTP 410" in message and "127.0.0.1" in message
    assert "expires_at unknown" in message
    assert cdn_counters(grokvideo_emulator)[0] == 1
    assert files_under(tmp_path) == []


def test_expired_url_keeps_a_file_an_earlier_run_stored(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    generation = finished_generation(grokvideo_emulator)
    first, _ = run_operator(make_operator(generation, tmp_path))
    requests = cdn_counters(grokvideo_emulator)[0]
    # Cleared a day later: the URL has expired, but the complete file is already there (only a
    # checked download is ever given the final name), so the rerun succeeds without a request.
    later = {**generation, "expires_at": time.time() - 60}
    again, events = run_operator(make_operator(later, tmp_path, outlets=[VIDEOS_ASSET]))
    assert again == first
    assert events[VIDEOS_ASSET].extra["files"][0]["reused"] is True
    assert cdn_counters(grokvideo_emulator)[0] == requests

    # Same when only the host says so (here 404 to the HEAD and to the GET).
    gone = {**generation, "video_urls": [generation["video_urls"][0] + "-gone"], "expires_at": None}
    target = tmp_path / f"{generation['generation_id']}.mp4"
    assert download_file(gone["video_urls"][0], target.as_uri()).reused is True


def test_server_error_is_not_expiry(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator)
    grokvideo_emulator.inject("503", endpoint="cdn")
    with pytest.raises(VideoDownloadError, match=r"127\.0\.0\.1: HTTP 503") as caught:
        run_operator(make_operator(generation, tmp_path))
    assert not isinstance(caught.value, VideoURLExpired)
    assert files_under(tmp_path) == []
    # The next try succeeds.
    uris, _ = run_operator(make_operator(generation, tmp_path))
    assert Path(uris[0][len("file://") :]).read_bytes() == SAMPLE_MP4.read_bytes()


def test_dropped_connection_fails_clearly(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator)
    grokvideo_emulator.inject("drop", endpoint="cdn")
    with pytest.raises(VideoDownloadError, match=r"could not download the video from 127\.0\.0\.1"):
        run_operator(make_operator(generation, tmp_path))
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/v.mp4", "file:///etc/passwd", "s3://bucket/v.mp4", "//cdn/v.mp4", "v.mp4"],
)
def test_non_http_scheme_refused_before_any_request(
    grokvideo_emulator: Any, tmp_path: Path, url: str
) -> None:
    good = finished_generation(grokvideo_emulator)
    generation = {**good, "video_urls": [*good["video_urls"], url]}
    with pytest.raises(InvalidDownloadInput, match="only http and https"):
        run_operator(make_operator(generation, tmp_path))
    assert cdn_counters(grokvideo_emulator)[0] == 0  # not even the good first URL was fetched
    assert files_under(tmp_path) == []


def test_non_http_thumbnail_refused_before_any_request(
    grokvideo_emulator: Any, tmp_path: Path
) -> None:
    generation = {**finished_generation(grokvideo_emulator), "thumbnail_url": "file:///etc/hosts"}
    with pytest.raises(InvalidDownloadInput, match="thumbnail"):
        run_operator(make_operator(generation, tmp_path, include_thumbnail=True))
    assert cdn_counters(grokvideo_emulator)[0] == 0


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A ``memory://`` object store (fsspec's in-memory filesystem) for ObjectStoragePath."""
    from airflow.sdk.io import store
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem(skip_instance_cache=True)
    fs.store = {}
    fs.pseudo_dirs = [""]
    monkeypatch.setitem(store._STORE_CACHE, "memory", store.ObjectStore("memory", None, fs=fs))
    return fs


def test_object_store_destination(grokvideo_emulator: Any, memory_store: Any) -> None:
    """A non-local store: temporary key, then the store's move (copy + delete) to the final key."""
    generation = finished_generation(grokvideo_emulator)
    gid = generation["generation_id"]
    uris, events = run_operator(
        make_operator(generation, "memory://bucket/videos", outlets=[VIDEOS_ASSET])
    )
    assert uris == [f"memory://bucket/videos/{gid}.mp4"]
    assert list(memory_store.store) == [f"/bucket/videos/{gid}.mp4"]  # no temporary key left
    assert memory_store.cat_file(f"/bucket/videos/{gid}.mp4") == SAMPLE_MP4.read_bytes()
    assert events[VIDEOS_ASSET].extra["videos"] == uris

    requests = cdn_counters(grokvideo_emulator)[0]
    again, _ = run_operator(make_operator(generation, "memory://bucket/videos"))
    assert again == uris
    assert cdn_counters(grokvideo_emulator)[0] == requests + 1  # the HEAD only

    cut = finished_generation(grokvideo_emulator, "fox [emulator:cut-download]")
    with pytest.raises(VideoDownloadError, match="cut off"):
        run_operator(make_operator(cut, "memory://bucket/videos"))
    assert list(memory_store.store) == [f"/bucket/videos/{gid}.mp4"]


def test_memory_stays_flat_for_a_large_video(grokvideo_emulator: Any, tmp_path: Path) -> None:
    generation = finished_generation(grokvideo_emulator, "big [emulator:video-mb=48]")
    tracemalloc.start()
    try:
        uris, _ = run_operator(make_operator(generation, tmp_path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = Path(uris[0][len("file://") :]).stat().st_size
    assert size == 48 * 1024 * 1024
    # The emulator serves from this process too; the whole peak stays a few chunks.
    assert peak < 12 * 1024 * 1024, f"peak traced memory {peak} bytes for a {size}-byte video"


# ------------------------------------------------------------------------------------------
# Inside Airflow: the asset consumer example, and a real dag.test()


def test_asset_consumer_example_is_scheduled_on_the_videos_asset(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / "example_grokvideo_asset_consumer.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("example_grokvideo_asset_consumer")
    assert dag is not None
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert dag.timetable.asset_condition == AssetAll(VIDEOS_ASSET)
    assert dag.task_ids == ["list_new_videos"]

    spec = importlib.util.spec_from_file_location(
        "example_grokvideo_asset_consumer", EXAMPLE_DAGS / "example_grokvideo_asset_consumer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.GROKVIDEO_VIDEOS == VIDEOS_ASSET

    class Event:
        def __init__(self, extra: dict[str, Any]) -> None:
            self.extra = extra

    events = [
        Event(
            {
                "generation_id": "g1",
                "videos": ["file:///v/g1.mp4"],
                "thumbnail": None,
                "files": [{"uri": "file:///v/g1.mp4", "size": 10}],
            }
        ),
        Event({"generation_id": "g2", "videos": ["s3://b/g2-1.mp4", "s3://b/g2-2.mp4"]}),
        Event({}),
    ]
    assert module.videos_from_events(events) == [
        {"generation_id": "g1", "uri": "file:///v/g1.mp4", "size": 10, "thumbnail": None},
        {"generation_id": "g2", "uri": "s3://b/g2-1.mp4", "size": None, "thumbnail": None},
        {"generation_id": "g2", "uri": "s3://b/g2-2.mp4", "size": None, "thumbnail": None},
    ]


DAG_UNDER_TEST = '''
"""A small DAG for this file: templated, mapped, with the videos Asset as outlet."""
from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, Asset, task

from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator

GROKVIDEO_VIDEOS = Asset(name="grokvideo_videos", uri="file:///grokvideo/videos")

with DAG(
    dag_id="grokvideo_download_under_test",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
) as dag:

    @task
    def generations(**context):
        return context["dag_run"].conf["generations"]

    GrokVideoDownloadOperator(
        task_id="download",
        generation="{{ dag_run.conf['generations'][0] | tojson }}",
        destination="{{ dag_run.conf['destination'] }}",
        file_name="{{ dag_run.conf['prefix'] }}/{generation_id}",
        include_thumbnail=True,
        outlets=[GROKVIDEO_VIDEOS],
    )
    GrokVideoDownloadOperator.partial(
        task_id="download_many",
        destination="{{ dag_run.conf['destination'] }}/many",
        outlets=[GROKVIDEO_VIDEOS],
    ).expand(generation=generations())
'''


def test_operator_in_a_real_dag_run(
    airflow_db: Path, grokvideo_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dag.test(): Jinja-templated inputs, a mapped download, asset events, XCom and the link.

    dag.test() only runs a DAG found in a configured DAG bundle, so the DAG file goes to a
    temporary folder registered as a second bundle beside the DAGs folder for this test.
    """
    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "grokvideo_download_under_test.py").write_text(DAG_UNDER_TEST)
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": "grokvideo-download-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(dags)},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the bundle's parse appends its folder

    spec = importlib.util.spec_from_file_location(
        "grokvideo_download_under_test", dags / "grokvideo_download_under_test.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "grokvideo_download_under_test", module)
    spec.loader.exec_module(module)
    dag = module.dag

    first = finished_generation(grokvideo_emulator, "first")
    second = finished_generation(grokvideo_emulator, "second")
    out = tmp_path / "out"
    run = dag.test(
        run_conf={"generations": [first, second], "destination": out.as_uri(), "prefix": "day1"}
    )
    assert run.state == "success"

    gid1, gid2 = first["generation_id"], second["generation_id"]
    assert files_under(out) == sorted(
        [
            f"day1/{gid1}.mp4",
            f"day1/{gid1}-thumbnail.jpg",
            f"many/{gid1}.mp4",
            f"many/{gid2}.mp4",
        ]
    )
    assert (out / "many" / f"{gid2}.mp4").read_bytes() == SAMPLE_MP4.read_bytes()
    assert cdn_counters(grokvideo_emulator)[1] == 0

    with create_session() as session:
        xcoms = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=dag.dag_id, task_ids="download")
        ).all()
        values = {x.key: XComModel.deserialize_value(x) for x in xcoms}
        stored = [
            (out / "day1" / f"{gid1}.mp4").as_uri(),
            (out / "day1" / f"{gid1}-thumbnail.jpg").as_uri(),
        ]
        assert values["return_value"] == stored
        # The "Grok video" link is the API server's (tests/plugins/test_app.py): not pushed.
        assert "_link_GrokVideoLink" not in values
        record = values["grokvideo"]
        assert (record["stage"], record["videos"], record["thumbnail"]) == (
            "stored",
            [stored[0]],
            stored[1],
        )

        events = session.scalars(
            select(AssetEvent).where(AssetEvent.source_run_id == run.run_id)
        ).all()
        by_task = sorted(
            (e.source_task_id, e.source_map_index, e.extra["generation_id"], e.extra["videos"])
            for e in events
        )
        assert by_task == [
            ("download", -1, gid1, [stored[0]]),
            ("download_many", 0, gid1, [(out / "many" / f"{gid1}.mp4").as_uri()]),
            ("download_many", 1, gid2, [(out / "many" / f"{gid2}.mp4").as_uri()]),
        ]
        assert all(e.asset.name == "grokvideo_videos" for e in events)
