"""Throughput and peak memory of the video download path, against curl on the same URL.

Starts the bundled emulator (a real HTTP server on 127.0.0.1, in a thread of this process),
creates one xcompute job whose video is ``--mb`` megabytes (``[emulator:video-mb=N]``), then:

1. downloads it with :func:`airflow_provider_grokvideo.delivery.download.download_file` (the
   function ``GrokVideoDownloadOperator`` calls) into a temporary directory, in a fresh Python
   subprocess, whose peak RSS (``ru_maxrss`` from ``wait4``) is the download's memory high-water
   mark; the RSS after imports, before the download, is reported too;
2. fetches the same URL with ``curl`` into a temporary file, measured the same way.

Prints the figures and the ratios; asserts nothing.  Both clients share the same emulator, so
the emulator's own speed caps both: the ratio is what to read.

    .venv/bin/python benchmarks/download.py [--mb 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MODEL = "grok-imagine-1.0-video-apimart"
API_KEY = "benchmark-key"

# The child: imports, records its RSS, downloads, reports JSON on stdout.
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from airflow_provider_grokvideo.delivery.download import download_file
rss_after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
stored = download_file(sys.argv[1], sys.argv[2], overwrite=True)
seconds = time.perf_counter() - started
print("RESULT " + json.dumps({
    "bytes": stored.size,
    "seconds": seconds,
    "rss_after_imports_kb": rss_after_imports,
}))
"""


def _wait_with_rusage(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Wait for ``process`` and return its exit code and its own resource usage."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def create_job(base_url: str, mb: float) -> tuple[str, float]:
    """Submit a job with an ``mb``-megabyte video, wait for it, return its video URL."""
    import httpx

    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": MODEL, "prompt": f"benchmark [emulator:video-mb={mb:g}]", "duration": 6}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        answer = client.post("/v1/videos/generations", json=body)
        answer.raise_for_status()
        data = answer.json()["data"]
        task_id = data["id"] if isinstance(data, dict) else data[0]["task_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            task = client.get(f"/v1/tasks/{task_id}").json()
            task = task.get("data", task)
            if task["status"] == "completed":
                video = task["result"]["videos"][0]
                url = video["url"]
                return (url[0] if isinstance(url, list) else url), video.get("expires_at")
            if task["status"] in ("failed", "cancelled"):
                raise SystemExit(f"the emulator job ended {task['status']}: {task}")
            time.sleep(0.2)
    raise SystemExit("the emulator job did not finish within 120 s")


def run_python(url: str, workdir: Path) -> dict[str, Any]:
    target = workdir / "python" / "video.mp4"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, f"file://{target}", str(REPO)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    output = process.stdout.read()
    code, usage = _wait_with_rusage(process)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"the download subprocess failed with exit code {code}")
    lines = [line for line in output.decode().splitlines() if line.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(wall=wall, peak_rss_kb=usage.ru_maxrss, file_bytes=target.stat().st_size)
    target.unlink()
    return result


def run_curl(curl: str, url: str, workdir: Path) -> dict[str, Any]:
    target = workdir / "curl.mp4"
    started = time.perf_counter()
    process = subprocess.Popen(
        [curl, "-sS", "--fail", "-o", str(target), "-w", "%{size_download} %{time_total}", url],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    code, usage = _wait_with_rusage(process)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"curl failed with exit code {code}")
    size, seconds = output.split()
    result = {
        "bytes": int(float(size)),
        "seconds": float(seconds),
        "wall": wall,
        "peak_rss_kb": usage.ru_maxrss,
        "file_bytes": target.stat().st_size,
    }
    target.unlink()
    return result


def _mb_per_s(result: dict[str, Any]) -> float:
    return result["bytes"] / 1e6 / result["seconds"] if result["seconds"] > 0 else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200.0, help="video size in MB (default 200)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each client; the fastest is kept"
    )
    args = parser.parse_args(argv)

    from airflow_provider_grokvideo.emulator import Emulator

    curl = shutil.which("curl")
    with (
        Emulator(api_key=API_KEY, job_seconds=0.5) as emu,
        tempfile.TemporaryDirectory(prefix="grokvideo-bench-") as tmp,
    ):
        workdir = Path(tmp)
        url, _ = create_job(emu.base_url("xcompute"), args.mb)
        print(f"video URL: {url}  ({args.mb:g} MB requested)")
        python_runs = [run_python(url, workdir) for _ in range(args.repeat)]
        curl_runs = [run_curl(curl, url, workdir) for _ in range(args.repeat)] if curl else []

    py = max(python_runs, key=_mb_per_s)
    print()
    print(f"{'client':<34}{'bytes':>12}{'seconds':>9}{'MB/s':>9}{'peak RSS':>11}")
    print(
        f"{'download_file (httpx)':<34}{py['bytes']:>12}{py['seconds']:>9.2f}"
        f"{_mb_per_s(py):>9.1f}{py['peak_rss_kb'] / 1024:>8.1f} MB"
    )
    print(
        f"{'  of which after imports':<34}{'':>12}{'':>9}{'':>9}"
        f"{py['rss_after_imports_kb'] / 1024:>8.1f} MB"
    )
    if not curl_runs:
        print("curl: not installed, no comparison")
        return
    cu = max(curl_runs, key=_mb_per_s)
    print(
        f"{'curl':<34}{cu['bytes']:>12}{cu['seconds']:>9.2f}"
        f"{_mb_per_s(cu):>9.1f}{cu['peak_rss_kb'] / 1024:>8.1f} MB"
    )
    print()
    growth = (py["peak_rss_kb"] - py["rss_after_imports_kb"]) / 1024
    print(f"throughput, download_file / curl: {_mb_per_s(py) / _mb_per_s(cu):.2f}")
    print(f"peak RSS, download_file / curl:   {py['peak_rss_kb'] / cu['peak_rss_kb']:.1f}")
    print(
        f"RSS growth during the download:   {growth:.1f} MB for a {py['bytes'] / 1e6:.0f} MB "
        "file (flat: independent of the file's size)"
    )


if __name__ == "__main__":
    main()
