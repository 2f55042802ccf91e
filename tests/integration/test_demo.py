"""``make demo`` works: the main example DAG against the emulator, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from repo_paths import SCRIPTS

DEMO = SCRIPTS / "demo.py"


def run_demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--home", str(home), "--job-seconds", "1", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_succeeds_through_weather(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "home", "--upstream", "xai")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "xai       succeeded" in result.stdout
    assert "1 submission" in result.stdout
    assert "rode out 3 injected 429/503" in result.stdout
    assert "All 1 video generated" in result.stdout
    assert "cost: $0." in result.stdout and " billed" in result.stdout  # xAI's usage field
    # The page of the printed API server may read the demo's own videos, and nothing else.
    output = (DEMO.parent.parent / "demo-output").as_uri()
    assert f"AIRFLOW__GROKVIDEO__PAGE_STORAGE_ROOTS={output}/ " in result.stdout


def test_demo_exits_non_zero_when_a_generation_fails(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "home", "--upstream", "xcompute", "--marker", "[emulator:fail]")
    assert result.returncode == 1
    assert "FAILED: 1 of 1 runs" in result.stdout
    assert "GrokVideoGenerationFailed" in result.stdout
