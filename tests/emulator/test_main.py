"""The emulator's command line (``emulator/__main__.py``): every option in its help, and an
emulator started with options that answers, applies them and stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY
from airflow_provider_grokvideo.emulator.__main__ import build_parser
from emulator.command_line import ENV, running_emulator


def test_cli_help_lists_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_grokvideo.emulator", "--help"],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    options = [o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")]
    expected = {
        "--host",
        "--port",
        "--job-seconds",
        "--api-key",
        "--max-jobs",
        "--ssl-certfile",
        "--ssl-keyfile",
        "--log-level",
    }
    assert expected <= set(options)
    for option in options:
        assert option in out, option
    assert DEFAULT_API_KEY in out


def test_cli_starts_answers_and_stops(tmp_path: Path) -> None:
    options = ("--job-seconds", "0", "--api-key", "cli-key", "--max-jobs", "100")
    with running_emulator(*options, "--log-level", "warning") as output:
        banner = output.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        url = match.group(1)
        headers = {"Authorization": "Bearer cli-key"}
        for _ in range(100):
            try:
                response = httpx.post(
                    f"{url}/mountsea/xai/videos",
                    json={"model": "grok-imagine-video", "prompt": "x"},
                    headers=headers,
                )
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        assert response.status_code == 200
        task = httpx.get(
            f"{url}/mountsea/xai/tasks",
            params={"taskId": response.json()["taskId"]},
            headers=headers,
        ).json()
        assert task["status"] == "completed"
        assert httpx.get(f"{url}/_emulator/stats").json()["max_jobs"] == 100
