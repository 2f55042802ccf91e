"""The emulator's pytest plugin (``emulator/pytest_plugin.py``), in a pytest run of its own: the
session's emulator, its ini setting, and a reset between tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from emulator.command_line import ENV


def test_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["airflow_provider_grokvideo.emulator.pytest_plugin"]\n'
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\ngrokvideo_emulator_job_seconds = 0.2\n")
    (tmp_path / "test_uses_plugin.py").write_text(
        textwrap.dedent(
            """
            import httpx

            def test_first(grokvideo_emulator):
                assert grokvideo_emulator.stats()["job_seconds"] == 0.2
                r = httpx.post(
                    grokvideo_emulator.base_url("xai") + "/v1/videos/generations",
                    json={"prompt": "x"},
                    headers={"Authorization": "Bearer emulator-key"},
                )
                assert r.status_code == 200
                assert grokvideo_emulator.stats()["jobs_total"] == 1

            def test_second_is_reset(grokvideo_emulator, grokvideo_emulator_session):
                assert grokvideo_emulator is grokvideo_emulator_session
                assert grokvideo_emulator.stats()["jobs_total"] == 0
            """
        )
    )
    env = {k: v for k, v in ENV.items() if not k.startswith("GROKVIDEO_EMULATOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
