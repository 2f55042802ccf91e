"""``make demo``: the main example DAG, run for real against the bundled emulator.

What it does, in a throw-away ``AIRFLOW_HOME`` (``.airflow-demo/`` in the repository):

1. starts the emulator of the three upstreams (xcompute, Mountsea, xAI) on a free local port;
2. creates one Airflow connection per upstream through ``AIRFLOW_CONN_<ID>`` environment
   variables (host = the emulator's base URL of that upstream, password = its API key);
3. creates a fresh SQLite metadata database;
4. runs ``example_grokvideo_text_to_video`` with ``dag.test()`` once per upstream (the
   trigger really runs; the xAI run also rides out injected 429 and 503 answers);
5. prints one line per video (upstream, generation id, final status, URL), stops the emulator
   and exits non-zero if anything failed;
6. prints how to open the videos on the "Grok videos" page: an ``airflow api-server`` of this
   home, with the demo's output folder as the page's only storage root
   (``[grokvideo] page_storage_roots``).

Airflow's own log of the runs goes to ``.airflow-demo/demo.log`` (``--verbose`` shows it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / ".airflow-demo"
DAGS = REPO / "example_dags"
MAIN_DAG = "example_grokvideo_text_to_video"
#: Where the videos go, and the only storage root of the page's API server.
OUTPUT = REPO / "demo-output"
ROOTS_VAR = "AIRFLOW__GROKVIDEO__PAGE_STORAGE_ROOTS"
# One video per upstream, each with its own prompt.
PROMPTS = {
    "xcompute": "A lighthouse on a cliff in a storm, waves crashing, cinematic",
    "mountsea": "A hummingbird drinking from a red flower, macro, slow motion",
    "xai": "A paper boat drifting down a rainy street gutter, shallow depth of field",
}
UPSTREAMS = tuple(PROMPTS)


def configure_airflow(home: Path) -> None:
    """Environment for a throw-away Airflow, set before Airflow is first imported."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Emulated jobs take seconds, not minutes: poll accordingly.
            "GROKVIDEO_POLL_INTERVAL": "1",
            "GROKVIDEO_MIN_POLL_INTERVAL": "0.25",
            "GROKVIDEO_MAX_POLL_INTERVAL": "2",
            "GROKVIDEO_WAIT_TIMEOUT": "60",
            # Where a download step of the example (if any) stores the videos.
            "GROKVIDEO_DESTINATION": OUTPUT.as_uri(),
            # ... and the one place the "Grok videos" page of this home's API server may read.
            ROOTS_VAR: OUTPUT.as_uri() + "/",
        }
    )


@contextlib.contextmanager
def output_to(log_path: Path, enabled: bool) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow's logs included) to ``log_path``."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def load_dag(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def return_values(run: Any) -> dict[str, Any]:
    """Each task's XCom return value in this run (first map index)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, key="return_value")
        ).all()
        values: dict[str, Any] = {}
        for row in sorted(rows, key=lambda r: r.map_index):
            values.setdefault(row.task_id, XComModel.deserialize_value(row))
        return values


def _failure_message(log_path: Path) -> str | None:
    """The last task failure Airflow logged (the exception line), if any."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    found = [line.strip() for line in lines if "GenerationFailed:" in line or "Exception:" in line]
    return found[-1] if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the main example DAG on the emulator.")
    parser.add_argument(
        "--upstream",
        choices=UPSTREAMS,
        action="append",
        help="run only against this upstream (repeatable; default: all three)",
    )
    parser.add_argument("--job-seconds", type=float, default=2.0, help="emulated job length")
    parser.add_argument(
        "--marker",
        default="",
        help="emulator marker added to every prompt, e.g. '[emulator:fail]' to see a failure",
    )
    parser.add_argument(
        "--home", type=Path, default=HOME, help="throw-away AIRFLOW_HOME (default: %(default)s)"
    )
    parser.add_argument("--verbose", action="store_true", help="show Airflow's own logs")
    args = parser.parse_args()
    upstreams = tuple(args.upstream or UPSTREAMS)
    home: Path = args.home.resolve()

    started = time.monotonic()
    configure_airflow(home)
    log_path = home / "demo.log"

    from airflow_provider_grokvideo.emulator import Emulator
    from airflow_provider_grokvideo.pricing import format_usd

    print(f"Grok video demo: {MAIN_DAG} against the emulator (AIRFLOW_HOME={home})")
    results: list[dict[str, Any]] = []
    failures = 0
    with Emulator(job_seconds=args.job_seconds) as emulator:
        print(f"  emulator at {emulator.url} (jobs last {args.job_seconds:g}s)")
        for upstream in upstreams:
            os.environ[f"AIRFLOW_CONN_GROKVIDEO_DEMO_{upstream.upper()}"] = (
                emulator.airflow_connection(upstream)
            )

        with output_to(log_path, not args.verbose):
            from airflow.utils import db

            db.resetdb()
            dag = load_dag(MAIN_DAG)
        print(f"  metadata database ready ({time.monotonic() - started:.1f}s)")

        for upstream in upstreams:
            if upstream == "xai":
                # Weather on the way: the trigger backs off and carries on.
                emulator.inject("429", count=2, upstream="xai", endpoint="status", retry_after=0.5)
                emulator.inject("503", count=1, upstream="xai", endpoint="status")
            before = emulator.stats()["upstreams"][upstream]
            run_started = time.monotonic()
            prompt = f"{PROMPTS[upstream]} {args.marker}".strip()
            conf = {"conn_id": f"grokvideo_demo_{upstream}", "prompt": prompt}
            with output_to(log_path, not args.verbose):
                run = dag.test(run_conf=conf)
            after = emulator.stats()["upstreams"][upstream]
            values = return_values(run)
            video = values.get("wait") or {}
            error = _failure_message(log_path) if str(run.state) != "success" else None
            result = {
                "upstream": upstream,
                "state": str(run.state),
                "generation_id": values.get("generation") or values.get("generate") or "-",
                "status": video.get("status") or ("failed" if str(run.state) == "failed" else "-"),
                "url": (video.get("video_urls") or ["-"])[0],
                "cost": (
                    f"{format_usd(Decimal(video['cost_usd']))} {video.get('cost_source')}"
                    if video.get("cost_usd") is not None
                    else "unknown (no reported cost or published price)"
                ),
                "submissions": after["submissions"] - before["submissions"],
                "status_reads": after["status_reads"] - before["status_reads"],
                "faults": after.get("faults", 0) - before.get("faults", 0),
                "seconds": time.monotonic() - run_started,
                "stored": values.get("download"),
                "error": error,
            }
            ok = (
                result["state"] == "success"
                and result["status"] == "succeeded"
                and result["submissions"] == 1
                and _stored_videos_are_mp4(result["stored"])
            )
            failures += not ok
            results.append(result)

    print()
    print(f"  {'upstream':<9} {'status':<10} {'generation id':<38} video URL")
    for r in results:
        print(f"  {r['upstream']:<9} {r['status']:<10} {r['generation_id']:<38} {r['url']}")
    print()
    for r in results:
        weather = f", rode out {r['faults']} injected 429/503" if r["faults"] else ""
        print(
            f"  {r['upstream']}: DAG run {r['state']} in {r['seconds']:.1f}s; "
            f"{r['submissions']} submission, {r['status_reads']} status reads{weather}"
        )
        print(f"    cost: {r['cost']}")
        if r["stored"]:
            print(f"    stored: {r['stored']}")
        if r["error"]:
            print(f"    {r['error']}")
    print()
    total = time.monotonic() - started
    if failures:
        print(f"FAILED: {failures} of {len(results)} runs did not succeed (log: {log_path})")
        return 1
    videos = f"{len(results)} video{'s' if len(results) != 1 else ''}"
    print(f"All {videos} generated and stored in {total:.1f}s, under {OUTPUT}")
    print(f"Airflow's log: {log_path}")
    print_where_to_see(home)
    return 0


def print_where_to_see(home: Path) -> None:
    """How to open these runs' videos on the "Grok videos" page of Airflow's UI."""
    print()
    print('See the videos in Airflow\'s UI (the "Grok videos" entry of its navigation):')
    print(
        f"  AIRFLOW_HOME={home} AIRFLOW__CORE__DAGS_FOLDER={DAGS} "
        f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///{home / 'airflow.db'} "
        f"{ROOTS_VAR}={OUTPUT.as_uri()}/ "
        f"{Path(sys.executable).with_name('airflow')} api-server --port 8080"
    )
    print("  then open http://localhost:8080/plugin/grok-videos (user admin; the password is")
    passwords = home / "simple_auth_manager_passwords.json.generated"
    print(f"  printed by the API server and kept in {passwords}).")
    print(
        f"  {ROOTS_VAR} ([grokvideo] page_storage_roots) is where the page may read stored "
        "videos: here the demo's output folder only."
    )


def _stored_videos_are_mp4(uris: list[str] | None) -> bool:
    """Each stored video is a real file on disk starting with an MP4 ``ftyp`` box."""
    from urllib.parse import unquote, urlsplit

    videos = [u for u in uris or [] if u.endswith(".mp4")]
    for uri in videos:
        path = Path(unquote(urlsplit(uri).path))
        if not path.is_file() or path.read_bytes()[4:8] != b"ftyp":
            return False
    return bool(videos)


if __name__ == "__main__":
    sys.exit(main())
