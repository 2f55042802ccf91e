"""The deferral guard: an Airflow that cannot defer beside this ``cryptography`` waits on the
worker, saying why and what to install, instead of failing in its API server.

Airflow 3.1.x sets an attribute on cryptography's ``MultiFernet``, which cryptography 51 made
a Rust class that takes none: every deferral then fails inside the Execution API with an
``AttributeError`` that the task's log never shows.  ``make test-floor-canary`` runs this file
on Airflow 3.1 with ``cryptography>=51`` and ``GROKVIDEO_EXPECT_DEFERRAL_BLOCKED=1``; the other
environments (``make test``, ``make test-floor``) defer as usual.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo import compat
from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.sensors.video import GrokVideoSensor
from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

EXAMPLE = EXAMPLE_DAGS / "example_grokvideo_text_to_video.py"
EXPECT_BLOCKED = os.environ.get("GROKVIDEO_EXPECT_DEFERRAL_BLOCKED") == "1"


@pytest.mark.parametrize(
    ("airflow", "takes_attributes", "blocked"),
    [
        ((3, 1, 0), False, True),
        ((3, 1, 8), False, True),
        ((3, 1, 8), True, False),  # cryptography 50 and older
        ((3, 2, 0), False, False),  # Airflow wraps the object since 3.2.0
        ((3, 3, 2), False, False),
    ],
)
def test_the_decision(airflow: tuple[int, int, int], takes_attributes: bool, blocked: bool) -> None:
    reason = compat.deferral_blocker(airflow, "51.0.0", takes_attributes)
    assert (reason is not None) == blocked
    if reason is not None:
        # One sentence a user can act on: the version, the library, the pin, the upgrade.
        assert f"Airflow {'.'.join(map(str, airflow))}" in reason
        assert "cryptography 51.0.0" in reason
        assert "'cryptography<51'" in reason
        assert "Airflow 3.2+" in reason
        assert "on the worker" in reason


def test_this_environment_is_judged_as_expected() -> None:
    assert compat.deferral_blocked() is EXPECT_BLOCKED


@pytest.mark.usefixtures("airflow_db")
def test_a_wait_on_this_airflow_delivers_the_video(
    emulator: Emulator,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The main example under ``dag.test()``: deferred where Airflow can, else on the worker
    with the warning in the task's log; the video is made once and stored either way."""
    for name, value in {
        "GROKVIDEO_POLL_INTERVAL": "0.3",
        "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
        "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
        "GROKVIDEO_WAIT_TIMEOUT": "60",
        "GROKVIDEO_DESTINATION": tmp_path.as_uri(),
    }.items():
        monkeypatch.setenv(name, value)
    # Every job is held until the wait is where this test looks (in the trigger, or poking
    # on the worker): a video done before the check-before-defer would never be deferred.
    emulator.hold()
    request.addfinalizer(emulator.release)  # a failure here must not stall the next test
    fired: list[Any] = []
    trigger_wait, poke = GrokVideoTrigger.wait, GrokVideoSensor.poke

    async def wait(self: GrokVideoTrigger) -> dict[str, Any]:
        emulator.release()
        fired.append(await trigger_wait(self))
        return fired[-1]

    def poke_released(self: GrokVideoSensor, context: Any) -> Any:
        emulator.release()
        return poke(self, context)

    monkeypatch.setattr(GrokVideoTrigger, "wait", wait)
    monkeypatch.setattr(GrokVideoSensor, "poke", poke_released)
    spec = importlib.util.spec_from_file_location("guard_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test(run_conf={"conn_id": "grokvideo_xcompute_default"})

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert emulator.stats()["upstreams"]["xcompute"]["submissions"] == 1
    assert [p.suffix for p in tmp_path.iterdir()].count(".mp4") == 1
    logged = caplog.text + "".join(capfd.readouterr())
    if EXPECT_BLOCKED:
        assert fired == []  # nothing was deferred: the API server would have failed it
        assert "'cryptography<51'" in logged
    else:
        assert [event["status"] for event in fired] == ["succeeded"]
        assert "cryptography<51" not in logged
