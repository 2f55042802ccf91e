"""Fixtures of the page's tests: runs of the main example whose records the page reads."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest
from repo_paths import EXAMPLE_DAGS

from airflow_provider_grokvideo.emulator import Emulator

LEAK_KEY = "sk-grokvideo-PAGECHECK-51c0ffee"
FAST_POLLS = {
    "GROKVIDEO_POLL_INTERVAL": "0.3",
    "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
    "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
    "GROKVIDEO_WAIT_TIMEOUT": "60",
}


# One pair of runs for the whole package: the page, its data and its files read the same records.
@pytest.fixture(scope="package")
def runs(airflow_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two runs of the main example: one video made and stored, one that the upstream failed."""
    from airflow.utils.session import create_session  # noqa: F401  (Airflow configured)

    videos = tmp_path_factory.mktemp("page-videos")
    with pytest.MonkeyPatch.context() as patch, Emulator(api_key=LEAK_KEY, job_seconds=1) as emu:
        for name, value in FAST_POLLS.items():
            patch.setenv(name, value)
        patch.setenv("GROKVIDEO_DESTINATION", videos.as_uri())
        patch.setenv("AIRFLOW_CONN_GROKVIDEO_PAGE", emu.airflow_connection("xcompute"))
        spec = importlib.util.spec_from_file_location(
            "page_t2v", EXAMPLE_DAGS / "example_grokvideo_text_to_video.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        good = module.dag.test(
            run_conf={"conn_id": "grokvideo_page", "prompt": "A <b>paper</b> boat & a duck"}
        )
        bad = module.dag.test(
            run_conf={"conn_id": "grokvideo_page", "prompt": "A stormy sea [emulator:fail]"}
        )
        assert str(good.state) == "success" and str(bad.state) == "failed"
        yield {"good": good, "bad": bad, "videos": videos, "emulator_url": emu.url}
