"""Helpers of the download tests: finished emulator jobs as the sensor would report them.

The jobs are made through the emulator's raw xcompute API with plain httpx (the provider's
hooks are not used here), and turned into the ``VideoGeneration.to_dict()`` value the sensor
pushes to XCom.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from repo_paths import SAMPLE_JPG, SAMPLE_MP4  # noqa: F401  (the download tests' files)

from airflow_provider_grokvideo.models import VideoGeneration

MODEL = "grok-imagine-1.0-video-apimart"


def finished_task(emulator: Any, prompt: str = "a red fox in snow", timeout: float = 30) -> dict:
    """Submit an xcompute job to ``emulator`` and wait until it is completed; its task object."""
    base = emulator.base_url("xcompute")
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    body = {"model": MODEL, "prompt": prompt, "duration": 6}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        answer = client.post("/v1/videos/generations", json=body)
        answer.raise_for_status()
        data = answer.json()["data"]
        task_id = data["id"] if isinstance(data, dict) else data[0]["task_id"]
        deadline = time.monotonic() + timeout
        while True:
            task = client.get(f"/v1/tasks/{task_id}").json()
            task = task.get("data", task)
            if task["status"] == "completed":
                return task
            if task["status"] in ("failed", "cancelled"):
                raise AssertionError(f"emulator job ended {task['status']}: {task}")
            if time.monotonic() > deadline:
                raise AssertionError(f"emulator job not completed after {timeout} s: {task}")
            time.sleep(0.1)


def generation_from_task(task: dict) -> dict[str, Any]:
    """The sensor's XCom value for a completed xcompute task object."""
    result = task.get("result") or {}
    urls: list[str] = []
    expiries: list[float] = []
    for video in result.get("videos") or []:
        url = video.get("url")
        urls.extend(url if isinstance(url, list) else [url])
        if video.get("expires_at") is not None:
            expiries.append(float(video["expires_at"]))
    return VideoGeneration(
        generation_id=task["id"],
        status="succeeded",
        progress=100,
        video_urls=urls,
        thumbnail_url=result.get("thumbnail_url"),
        expires_at=min(expiries) if expiries else None,
        created_at=task.get("created"),
    ).to_dict()


def finished_generation(emulator: Any, prompt: str = "a red fox in snow") -> dict[str, Any]:
    """Submit, wait, and return the generation dict the sensor would push to XCom."""
    return generation_from_task(finished_task(emulator, prompt))


def files_under(directory: Path) -> list[str]:
    """Every file below ``directory`` (relative names, sorted), hidden temporary files too."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def cdn_counters(emulator: Any) -> tuple[int, int, int]:
    """(CDN requests, CDN requests carrying Authorization, CDN body bytes sent)."""
    stats = emulator.stats()
    return (
        stats["cdn_requests"],
        stats["cdn_requests_with_authorization"],
        stats["cdn_bytes_sent"],
    )
