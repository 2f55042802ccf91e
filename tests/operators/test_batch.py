"""The batch operator for real: ``dag.test()`` runs against the emulator with Airflow's own task
state store, the trigger executed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dag_bundles import dag_module

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.operators.batch import (
    RECORD_KEY,
    GrokVideoBatchOperator,
    request_ids,
)
from airflow_provider_grokvideo.pricing import CostCapError

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def dags() -> Iterator[ModuleType]:
    with dag_module("grokvideo_batch_runs", "grokvideo-batch-tests") as module:
        yield module


def return_value(run: Any) -> Any:
    return xcom(run, "return_value")


def xcom(run: Any, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == "batch",
                XComModel.key == key,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def record(run: Any) -> dict[str, Any]:
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(TaskStateStoreModel).where(
                TaskStateStoreModel.run_id == run.run_id, TaskStateStoreModel.key == RECORD_KEY
            )
        ).one()
        value = row.value
        return json.loads(value) if isinstance(value, str) else value


def tries(run: Any) -> int:
    (ti,) = run.get_task_instances()
    return int(ti.try_number)


def batch_stats(emulator: Emulator) -> dict[str, Any]:
    return emulator.stats()["xai_batches"]


def check_files(folder: Path, results: list[dict[str, Any]]) -> None:
    for entry in results:
        (uri,) = entry["uris"]
        path = Path(uri.removeprefix("file://"))
        assert path.parent == folder and path.name == f"{entry['batch_request_id']}.mp4"
        assert path.read_bytes()[4:8] == b"ftyp"


def test_one_batch_every_video_stored_in_order_at_half_price(
    dags: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    requests = [
        {"prompt": f"spot {i} [emulator:seconds={s}]", "duration": 6}
        for i, s in enumerate((2, 0.5, 1))
    ]
    run = dags.grokvideo_test_batch.test(
        run_conf={"requests": requests, "destination": tmp_path.as_uri()}
    )
    assert str(run.state) == "success"
    results = return_value(run)
    assert [r["status"] for r in results] == ["succeeded"] * 3
    # In the order given, though they finished in another.
    assert [r["batch_request_id"] for r in results] == [
        f"{results[0]['batch_request_id'][:-5]}{i:05d}" for i in range(3)
    ]
    assert all(r["cost_usd"] == "0.15" and r["cost_source"] == "billed" for r in results)
    check_files(tmp_path, results)
    stats = batch_stats(emulator)
    assert (stats["creates"], stats["adds"], stats["requests_added"]) == (1, 1, 3)
    assert record(run)["batch_id"] == results[0]["batch_id"]
    # The "Grok videos" page shows the batch as one card with its files and its bill.
    page = xcom(run, "grokvideo")
    assert page["generation_id"] == results[0]["batch_id"] and page["status"] == "succeeded"
    assert page["videos"] == [r["uris"][0] for r in results] and page["cost_usd"] == 0.45
    assert page["batch"] == {"videos": 3, "failed": 0}
    dumped = json.dumps(results)
    assert emulator.api_key not in dumped


def test_a_shortened_url_expiry_loses_no_video(
    dags: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    """Results ready over nine seconds, each URL alive for three: a task that waited for the
    whole batch would find the first ones expired; this one stores each as it comes."""
    emulator.set_xai_batch_url_seconds(3)
    seconds = (0.5, 1, 4, 6, 9)
    requests = [{"prompt": f"v{i} [emulator:seconds={s}]"} for i, s in enumerate(seconds)]
    run = dags.grokvideo_test_batch.test(
        run_conf={"requests": requests, "destination": tmp_path.as_uri()}
    )
    assert str(run.state) == "success", return_value(run)
    results = return_value(run)
    assert [r["status"] for r in results] == ["succeeded"] * 5
    check_files(tmp_path, results)
    assert batch_stats(emulator)["creates"] == 1
    assert emulator.stats()["cdn_requests"] >= 5


def test_a_retry_reattaches_without_a_second_batch(
    dags: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    # The first try's first download fails (a CDN 500): the task fails and retries.
    emulator.inject("500", upstream="xai", endpoint="cdn", count=1)
    requests = [{"prompt": f"r{i} [emulator:seconds=1]"} for i in range(3)]
    run = dags.grokvideo_test_batch_worker.test(
        run_conf={"requests": requests, "destination": tmp_path.as_uri()}
    )
    assert str(run.state) == "success"
    assert tries(run) == 2
    results = return_value(run)
    check_files(tmp_path, results)
    stats = batch_stats(emulator)
    # One batch; each request added once (the retry listed them and added nothing).
    assert (stats["creates"], stats["adds"], stats["requests_added"]) == (1, 1, 3)


def test_partial_failure_fails_after_storing_every_success(
    dags: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    requests = [{"prompt": "fine"}, {"prompt": "bad [emulator:fail]"}]
    run = dags.grokvideo_test_batch_worker.test(
        run_conf={"requests": requests, "destination": tmp_path.as_uri()}
    )
    assert str(run.state) == "failed"
    results = return_value(run)
    assert [r["status"] for r in results] == ["succeeded", "failed"]
    assert results[1]["error_code"] == "invalid_argument"
    check_files(tmp_path, results[:1])
    assert batch_stats(emulator)["creates"] == 1  # the retry re-attached


def test_lenient_returns_failed_entries_and_lists_the_files_in_the_asset_event(
    dags: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    requests = [
        {"prompt": "bad [emulator:fail]"},
        {"prompt": "fine"},
        {"prompt": "p", "model": "grok-imagine-video-1.5", "resolution": "1080p"},
    ]
    run = dags.grokvideo_test_batch_lenient.test(
        run_conf={"requests": requests, "destination": tmp_path.as_uri()}
    )
    assert str(run.state) == "success"
    results = return_value(run)
    assert [r["status"] for r in results] == ["failed", "succeeded", "succeeded"]
    assert results[0]["uris"] == [] and results[0]["error_message"]
    check_files(tmp_path, results[1:])

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        (event,) = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "grokvideo_batch_test_videos")
            .where(AssetEvent.source_run_id == run.run_id)
        ).all()
        assert event.extra["uris"] == [u for r in results for u in r["uris"]]
        assert event.extra["batch_id"] == results[0]["batch_id"]


# -- refused before anything is sent ------------------------------------------------------------


class FakeTI:
    dag_id, task_id, run_id, map_index = "d", "t", "r", -1


def test_request_ids_are_derived_from_the_task_instance() -> None:
    ids = request_ids({"ti": FakeTI()}, 3)
    assert ids == request_ids({"ti": FakeTI()}, 3) and ids[2].endswith("-00002")
    other = type("TI", (FakeTI,), {"map_index": 0})()
    assert request_ids({"ti": other}, 1) != ids[:1]


def test_refusals_before_anything_is_sent(emulator: Emulator, tmp_path: Path) -> None:
    context = {"ti": FakeTI()}
    bad = GrokVideoBatchOperator(
        task_id="b",
        requests=[{"prompt": "a"}, {"prompt": "b", "duration": 99}],
        destination=tmp_path.as_uri(),
    )
    with pytest.raises(InvalidVideoRequest, match=r"requests\[1\]\.duration"):
        bad.execute(context)  # type: ignore[arg-type]
    dear = GrokVideoBatchOperator(
        task_id="c",
        requests=[{"prompt": "a", "duration": 10}]
        * 4,  # no resolution: priced at the dearest, 720p: $0.35 each at batch prices
        destination=tmp_path.as_uri(),
        max_cost_usd=0.99,
    )
    with pytest.raises(CostCapError, match=r"\$1\.40 for 4 video\(s\) at batch prices"):
        dear.execute(context)  # type: ignore[arg-type]
    assert batch_stats(emulator)["creates"] == 0
    assert emulator.stats()["upstreams"]["xai"]["requests"] == 0


def test_importing_the_batch_operator_is_as_light_as_the_others() -> None:
    """What a DAG parse imports: no HTTP client, no hook, no trigger (tests/test_import_cost)."""
    import subprocess
    import sys

    code = (
        "import sys\nimport airflow.sdk\nfrom airflow.sdk.bases.hook import BaseHook\n"
        "before = set(sys.modules)\n"
        "from airflow_provider_grokvideo.operators.batch import GrokVideoBatchOperator\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(n for n in new if n.split('.')[0] in ('httpx', 'tenacity', 'aiohttp')"
        " or n.startswith(('airflow_provider_grokvideo.hooks', "
        "'airflow_provider_grokvideo.triggers', 'airflow_provider_grokvideo.emulator'))"
        " or n == 'airflow.triggers.base'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_on_kill_cancels_the_batch_and_a_timeout_cancels_it_too(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_grokvideo.compat import AirflowFailException

    clock = [1_800_000_000.0]
    monkeypatch.setattr(emulator.app, "clock", lambda: clock[0])
    operator = GrokVideoBatchOperator(
        task_id="k",
        requests=[{"prompt": "slow [emulator:seconds=100]"}, {"prompt": "quick"}],
        destination=tmp_path.as_uri(),
        deferrable=False,
        poll_interval=10,
        timeout=60,
    )
    operator.clock = lambda: clock[0]
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the worker's wait, on the injected clock
        polls.append(seconds)
        clock[0] += seconds

    operator.sleep = sleep
    ti = FakeTI()
    ti.xcom_push = lambda key, value: pushed.update({key: value})  # type: ignore[attr-defined]
    pushed: dict[str, Any] = {}
    with pytest.raises(AirflowFailException, match="timed out"):
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    results = pushed["return_value"]
    assert [r["status"] for r in results] == ["cancelled", "succeeded"]
    assert len(polls) == 6  # 60 s at one poll every 10 s
    stats = batch_stats(emulator)
    assert stats["cancels"] == 1
    # Polls that found nothing new cost one request each: results listed twice only.
    assert stats["gets"] == 7 and stats["lists"] == 1 + 2

    operator.on_kill()
    assert batch_stats(emulator)["cancels"] == 2
    GrokVideoBatchOperator(task_id="n", requests=[], destination="x").on_kill()  # no batch yet


def test_a_retry_without_a_state_store_finds_its_batch_by_name(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_grokvideo import compat
    from airflow_provider_grokvideo.compat import AirflowFailException

    monkeypatch.setattr(compat, "task_state_store", lambda context, logger=None: None)
    clock = [1_800_000_000.0]
    monkeypatch.setattr(emulator.app, "clock", lambda: clock[0])

    def operator(timeout: float) -> GrokVideoBatchOperator:
        made = GrokVideoBatchOperator(
            task_id="s",
            requests=[{"prompt": f"v{i} [emulator:seconds=30]"} for i in range(2)],
            destination=tmp_path.as_uri(),
            deferrable=False,
            poll_interval=10,
            timeout=timeout,
        )
        made.clock = lambda: clock[0]

        def sleep(seconds: float) -> None:
            clock[0] += seconds

        made.sleep = sleep
        return made

    ti = FakeTI()
    ti.xcom_push = lambda key, value: None  # type: ignore[attr-defined]
    ti.try_number = 1  # type: ignore[attr-defined]
    first = operator(timeout=10)
    # The first try gives up before the videos are done (its timeout cancels nothing here:
    # the test keeps the batch running by making on_kill's and the timeout's cancel a no-op).
    monkeypatch.setattr(GrokVideoBatchOperator, "_cancel", lambda self, hook, b, why: None)
    with pytest.raises(AirflowFailException, match="timed out"):
        first.execute({"ti": ti})  # type: ignore[arg-type]
    ti.try_number = 2  # type: ignore[attr-defined]
    results = operator(timeout=120).execute({"ti": ti})  # type: ignore[arg-type]
    assert [r["status"] for r in results] == ["succeeded", "succeeded"]
    stats = batch_stats(emulator)
    assert (stats["creates"], stats["requests_added"]) == (1, 2)
    check_files(tmp_path, results)


def test_a_video_lost_to_the_url_expiry_is_reported_not_silent(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that polls less often than URLs live loses videos: each is an ``expired``
    entry naming the expiry, the others are stored, and the task fails."""
    from airflow_provider_grokvideo.compat import AirflowFailException

    clock = [1_800_000_000.0]
    monkeypatch.setattr(emulator.app, "clock", lambda: clock[0])
    emulator.set_xai_batch_url_seconds(1)
    operator = GrokVideoBatchOperator(
        task_id="x",
        requests=[
            {"prompt": "early [emulator:seconds=2]"},
            {"prompt": "late [emulator:seconds=10]"},
        ],
        destination=tmp_path.as_uri(),
        deferrable=False,
        poll_interval=10,
    )
    operator.clock = lambda: clock[0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    operator.sleep = sleep
    pushed: dict[str, Any] = {}
    ti = FakeTI()
    ti.xcom_push = lambda key, value: pushed.update({key: value})  # type: ignore[attr-defined]
    with pytest.raises(AirflowFailException, match="1 of 2"):
        operator.execute({"ti": ti})  # type: ignore[arg-type]
    early, late = pushed["return_value"]
    assert (early["status"], early["error_code"], early["uris"]) == ("expired", "url_expired", [])
    assert late["status"] == "succeeded" and len(late["uris"]) == 1


def test_a_batch_reserves_its_estimate_and_settles_to_its_bill(
    dags: ModuleType, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three videos at batch prices ($0.15 each): refused unsent by a $0.40 budget (this
    process's: no redis_conn_id), made within a $1 one and counted at what xAI billed."""
    from airflow_provider_grokvideo.budget.periods import BudgetLimits
    from airflow_provider_grokvideo.budget.spend import SpendBudget
    from airflow_provider_grokvideo.budget.stores import ProcessStore, ledger_name

    ProcessStore.forget_all()
    conn = json.loads(emulator.airflow_connection("xai"))
    requests = [{"prompt": f"spot {i} [emulator:seconds=0.5]", "duration": 6} for i in range(3)]
    conf = {"requests": requests, "destination": tmp_path.as_uri()}
    for budget, state in (("0.40", "failed"), ("1", "success")):
        conn["extra"] = {"budget_usd_per_day": budget}
        monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_XAI_DEFAULT", json.dumps(conn))
        run = dags.grokvideo_test_batch.test(run_conf=conf)
        assert str(run.state) == state
        if state == "failed":
            assert batch_stats(emulator)["creates"] == 0  # refused before anything was sent
    limits = BudgetLimits.from_extra("grokvideo_xai_default", {"budget_usd_per_day": 1})
    ledger = ProcessStore(ledger_name("grokvideo_xai_default"))
    [day] = SpendBudget(limits, ledger).status()
    assert (day.spent_ticks, day.reserved_ticks) == (4_500_000_000, 0)
