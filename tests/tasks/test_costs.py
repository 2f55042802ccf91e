"""The cost steps of the tasks: the estimate and the cap before submitting (the emulator's stats
show what was sent), and the estimate carried into the sensor's result."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.pricing import CostCapError
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor
from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY
from airflow_provider_grokvideo.tasks.costs import with_estimate


class FakeTI:
    """Only what the cost step touches of a task instance: its XCom push."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def generate(upstream: str, **kwargs: Any) -> GrokVideoGenerateOperator:
    arguments: dict[str, Any] = {
        "task_id": "generate",
        "conn_id": f"grokvideo_{upstream}_default",
        "prompt": "a sailing boat at sunset",
    }
    arguments.update(kwargs)
    return GrokVideoGenerateOperator(**arguments)


def sent(emulator: Emulator) -> tuple[int, int]:
    """(every request the emulator saw, jobs created)."""
    stats = emulator.stats()
    return stats["requests"], sum(u["submissions"] for u in stats["upstreams"].values())


# -- the generate operator: refused before any request ----------------------------------------


def test_over_the_cap_is_refused_before_any_request(emulator: Emulator) -> None:
    task = generate("xai", duration=15, resolution="720p", max_cost_usd=1)
    with pytest.raises(AirflowFailException) as caught:
        task.execute(context={})  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, CostCapError)
    text = str(caught.value)
    assert "estimated cost $1.05" in text and "max_cost_usd=$1.00" in text
    assert sent(emulator) == (0, 0)


def test_under_the_cap_submits_once_and_keeps_the_estimate(
    emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    ti = FakeTI()
    task = generate("xai", duration="6", resolution="720p", max_cost_usd="0.42")
    generation_id = task.execute(context={"ti": ti})  # type: ignore[arg-type]
    assert emulator.job(generation_id) is not None
    assert sent(emulator) == (1, 1)
    # One XCom: the task's record, with the estimate in it.
    assert sorted(ti.pushed) == [XCOM_KEY]
    record = ti.pushed[XCOM_KEY]
    estimate = record["cost_estimate"]
    assert record["generation_id"] == generation_id and record["cost_usd"] == 0.42
    assert (estimate["cost_usd"], estimate["cost_ticks"], estimate["cost_source"]) == (
        "0.42",
        4_200_000_000,
        "estimated",
    )
    json.dumps(estimate)
    assert "Estimated cost: $0.42 for 6 s of grok-imagine-video at 720p" in capfd.readouterr().out


def test_a_cap_without_a_price_is_refused_before_any_request(emulator: Emulator) -> None:
    for upstream, model in [("xcompute", "grok-imagine-1.5-video-apimart"), ("mountsea", None)]:
        with pytest.raises(AirflowFailException, match="no price is published") as caught:
            generate(upstream, model=model, duration=6, max_cost_usd=5).execute(context={})  # type: ignore[arg-type]
        assert "'prices'" in str(caught.value)
    assert sent(emulator) == (0, 0)


def test_without_a_cap_an_unpriced_video_is_submitted(emulator: Emulator) -> None:
    ti = FakeTI()
    generate("mountsea", duration=6).execute(context={"ti": ti})  # type: ignore[arg-type]
    assert sent(emulator) == (1, 1)
    assert set(ti.pushed) == {"grokvideo"}  # the id in the task's one record
    assert "cost_estimate" not in ti.pushed["grokvideo"]  # no estimate to keep


def test_a_price_in_the_connection_makes_the_cap_checkable(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"prices": {"grok-imagine-1.5-video-apimart": {"480p": 0.02, "720p": 0.03}}}
    monkeypatch.setenv("AIRFLOW_CONN_GROKVIDEO_PRICED", json.dumps(conn))
    model = "grok-imagine-1.5-video-apimart"
    over = generate("xcompute", conn_id="grokvideo_priced", model=model, duration=30)
    over.max_cost_usd = "0.5"
    with pytest.raises(AirflowFailException, match=r"estimated cost \$0.60"):
        over.execute(context={})  # type: ignore[arg-type]
    assert sent(emulator) == (0, 0)
    under = generate("xcompute", conn_id="grokvideo_priced", model=model, duration=20)
    under.max_cost_usd = "0.5"
    under.execute(context={})  # type: ignore[arg-type]
    assert sent(emulator) == (1, 1)


@pytest.mark.parametrize("cap", ["-1", "cheap", True])
def test_a_bad_cap_fails_before_any_request(emulator: Emulator, cap: object) -> None:
    with pytest.raises(AirflowFailException, match="max_cost_usd"):
        generate("xai", max_cost_usd=cap).execute(context={})  # type: ignore[arg-type]
    assert sent(emulator) == (0, 0)


def test_bad_input_is_still_refused_first(emulator: Emulator) -> None:
    with pytest.raises(AirflowFailException, match="duration=40"):
        generate("xai", duration=40, max_cost_usd=100).execute(context={})  # type: ignore[arg-type]
    assert sent(emulator) == (0, 0)


# -- templated and mapped, in a real dag.test() -----------------------------------------------

DAG_UNDER_TEST = """
from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

with DAG(
    "grokvideo_cost_cap_under_test",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    params={"cap": Param(0.5, type="number")},
) as dag:
    generate = GrokVideoGenerateOperator.partial(
        task_id="generate",
        conn_id="grokvideo_xai_default",
        prompt="a lighthouse at dusk",
        resolution="720p",
        max_cost_usd="{{ params.cap }}",
        retries=0,
    ).expand(duration=[6, 15, 7])
    GrokVideoSensor.partial(
        task_id="wait",
        conn_id="grokvideo_xai_default",
        poll_interval=0.3,
        min_poll_interval=0.1,
        max_poll_interval=0.5,
        cost_estimate=(
            "{{ ti.xcom_pull(task_ids='generate', key='grokvideo', "
            "map_indexes=ti.map_index) }}"
        ),
    ).expand(generation_id=generate.output)
"""


def test_the_cap_is_templated_and_works_when_mapped(
    airflow_db: Path, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "grokvideo_cost_cap_under_test.py").write_text(DAG_UNDER_TEST)
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": "grokvideo-cost-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(dags)},
        },
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location(
        "grokvideo_cost_cap_under_test", dags / "grokvideo_cost_cap_under_test.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "grokvideo_cost_cap_under_test", module)
    spec.loader.exec_module(module)

    run = module.dag.test(run_conf={"cap": 0.5})
    task_states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    # 6 s and 7 s at $0.07/s are under $0.50; 15 s ($1.05) is refused before any request (and
    # the mapped wait, whose input lacks that id, is never expanded).
    assert task_states == {
        ("generate", 0): "success",
        ("generate", 1): "failed",
        ("generate", 2): "success",
        ("wait", -1): "upstream_failed",
    }
    stats = emulator.stats()["upstreams"]["xai"]
    assert (stats["submit_requests"], stats["submissions"]) == (2, 2)

    # The same DAG with a cap that the rendered template raises to $2: all three are paid for.
    run = module.dag.test(run_conf={"cap": 2})
    assert str(run.state) == "success"
    stats = emulator.stats()["upstreams"]["xai"]
    assert (stats["submit_requests"], stats["submissions"]) == (5, 5)
    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids=run.dag_id, task_ids="wait", key="return_value"
            )
        ).all()
        videos = {row.map_index: XComModel.deserialize_value(row) for row in rows}
    # xAI bills: the sensor's XCom carries the billed cost rather than the estimate.
    assert {i: (v["cost_usd"], v["cost_source"]) for i, v in videos.items()} == {
        0: ("0.42", "billed"),
        1: ("1.05", "billed"),
        2: ("0.49", "billed"),
    }


# -- the sensor's result ----------------------------------------------------------------------

ESTIMATE = {
    "cost_ticks": 660_000_000,
    "cost_usd": "0.066",
    "cost_source": "estimated",
    "upstream": "xcompute",
    "model": "grok-imagine-1.0-video-apimart",
    "duration": 6,
    "resolution": "480p",
    "usd_per_second": "0.011",
    "price_source": "connection 'c' extra 'prices'",
}


def done(**kwargs: Any) -> dict[str, Any]:
    return VideoGeneration("g", "succeeded", video_urls=["https://c/v.mp4"], **kwargs).to_dict()


@pytest.mark.parametrize("form", [ESTIMATE, json.dumps(ESTIMATE), repr(ESTIMATE)])
def test_the_sensor_result_takes_the_estimate_where_nothing_is_billed(form: Any) -> None:
    sensor = GrokVideoSensor(task_id="wait", conn_id="c", generation_id="g", cost_estimate=form)
    event = {"status": "succeeded", "generation": done(), "message": "ok"}
    result = sensor.execute_complete({}, event)  # type: ignore[arg-type]
    assert (result["cost_ticks"], result["cost_usd"], result["cost_source"]) == (
        660_000_000,
        "0.066",
        "estimated",
    )


def test_a_billed_cost_wins_over_the_estimate_and_nothing_stays_unknown() -> None:
    billed = done(cost_ticks=700_000_000, cost_source="billed")
    assert with_estimate(billed, ESTIMATE)["cost_source"] == "billed"
    assert with_estimate(billed, ESTIMATE)["cost_usd"] == "0.07"
    for nothing in (None, "None", ""):
        assert with_estimate(done(), nothing)["cost_usd"] is None
    # A broken estimate is logged and ignored: the video is done, its wait must not fail.
    assert with_estimate(done(), "garbage")["cost_source"] is None
