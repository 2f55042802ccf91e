"""Where the tests find the repository's files: one place, so that a test file keeps working
wherever it sits in ``tests/`` (the tree mirrors the package, so files sit at several depths)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
SCRIPTS = REPO / "scripts"
EMULATOR = REPO / "airflow_provider_grokvideo" / "emulator"
SAMPLE_MP4 = EMULATOR / "sample.mp4"
SAMPLE_JPG = EMULATOR / "sample.jpg"
