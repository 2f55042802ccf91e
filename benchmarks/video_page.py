"""How fast the "Grok videos" page answers with 10,000 generations, and what a seek reads.

1. A throw-away ``AIRFLOW_HOME`` with a SQLite metadata database; the main example DAG runs
   once for real on the emulator (``dag.test()``), which leaves one DAG run with its task
   instances and its XComs: the records of generate and download, the wait's result.
2. That run is copied ``--generations - 1`` times in bulk (new DAG run, task instances and
   records, each with its own generation id; one in ten failed upstream, so it has no stored
   copy): the same rows real runs write, 10,000 generations, ~30,000 records and results.
3. Airflow's own API app (the one ``airflow api-server`` serves: its auth manager, JWT check
   and the plugin mounted) answers the page over ASGI, with a Bearer token: the first page, a
   status filter, a DAG filter and the last page, each ``--repeat`` times (median and worst).
4. A 200 MB stored video: the page's ``/file`` route answers a ``Range`` near its end; the
   time to the first byte and the bytes the process read (``/proc/self/io``) are printed.

Prints the figures; asserts nothing.

    .venv/bin/python benchmarks/video_page.py [--generations 10000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
DAG_ID = "example_grokvideo_text_to_video"
MB = 1024 * 1024


def configure(home: Path) -> None:
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "GROKVIDEO_POLL_INTERVAL": "0.3",
            "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
            "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
            "GROKVIDEO_DESTINATION": (home / "videos").as_uri(),
            # The page serves stored copies only under these roots (the big file sits in home).
            "AIRFLOW__GROKVIDEO__PAGE_STORAGE_ROOTS": home.as_uri() + "/",
        }
    )


def run_example_once() -> Any:
    from airflow.utils import db

    from airflow_provider_grokvideo.emulator import Emulator

    db.resetdb()
    with Emulator(job_seconds=1) as emulator:
        os.environ["AIRFLOW_CONN_GROKVIDEO_XCOMPUTE_DEFAULT"] = emulator.airflow_connection(
            "xcompute"
        )
        path = REPO / "example_dags" / f"{DAG_ID}.py"
        spec = importlib.util.spec_from_file_location(DAG_ID, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        run = module.dag.test()
    if str(run.state) != "success":
        raise SystemExit(f"the example run did not succeed: {run.state}")
    return run


def copy_run(run: Any, copies: int) -> None:
    """``copies`` more DAG runs like ``run``: its rows, each with a generation of its own."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import insert, select

    dag_runs, tis, xcoms = DagRun.__table__, TaskInstance.__table__, XComModel.__table__
    with create_session() as session:
        run_row = dict(
            session.execute(select(dag_runs).where(dag_runs.c.id == run.id)).mappings().one()
        )
        ti_rows = [
            dict(row)
            for row in session.execute(
                select(tis).where(tis.c.dag_id == DAG_ID, tis.c.run_id == run.run_id)
            ).mappings()
        ]
        xcom_rows = [
            dict(row)
            for row in session.execute(select(xcoms).where(xcoms.c.dag_run_id == run.id)).mappings()
        ]
    original_id = next(r["value"]["generation_id"] for r in xcom_rows if r["key"] == "grokvideo")
    batch = 500
    for first in range(0, copies, batch):
        count = min(batch, copies - first)
        with create_session() as session:
            new_runs = []
            for n in range(first, first + count):
                row = {k: v for k, v in run_row.items() if k != "id"}
                row["run_id"] = f"bench__{n:06d}"
                for name in ("logical_date", "queued_at", "start_date", "end_date", "run_after"):
                    if row.get(name) is not None:
                        row[name] = row[name] - _seconds(copies - n)
                new_runs.append(row)
            session.execute(insert(dag_runs), new_runs)
            ids = dict(
                session.execute(
                    select(dag_runs.c.run_id, dag_runs.c.id).where(
                        dag_runs.c.run_id.in_([r["run_id"] for r in new_runs])
                    )
                ).all()
            )
            new_tis, new_xcoms = [], []
            for n in range(first, first + count):
                run_id = f"bench__{n:06d}"
                generation_id = f"task_bench_{n:06d}"
                failed = n % 10 == 0
                for ti in ti_rows:
                    if failed and ti["task_id"] == "download":
                        continue
                    new_tis.append({**ti, "id": uuid.uuid4(), "run_id": run_id})
                for xcom in xcom_rows:
                    if failed and xcom["task_id"] == "download":
                        continue
                    value = _renamed(xcom["value"], original_id, generation_id)
                    key = xcom["key"]
                    if failed and key == "return_value" and xcom["task_id"] == "wait":
                        # A failed wait returns nothing and records its failure.
                        key = "grokvideo"
                        value = {
                            "generation_id": generation_id,
                            "stage": "finished",
                            "status": "failed",
                            "rank": 32,
                            "error": "rejected",
                        }
                    new_xcoms.append(
                        {
                            **xcom,
                            "key": key,
                            "run_id": run_id,
                            "dag_run_id": ids[run_id],
                            "value": value,
                            "timestamp": xcom["timestamp"] - _seconds(copies - n),
                        }
                    )
            session.execute(insert(tis), new_tis)
            session.execute(insert(xcoms), new_xcoms)


def _seconds(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=60 * n)


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    return value


def timed(client: Any, url: str, headers: dict[str, str], repeat: int) -> tuple[list[float], Any]:
    times = []
    answer = None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: HTTP {answer.status_code} {answer.text[:200]}")
    return times, answer


def rchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--video-mb", type=int, default=200)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="grokvideo-page-bench-"))
    configure(home)
    try:
        started = time.perf_counter()
        run = run_example_once()
        copy_run(run, args.generations - 1)
        print(
            f"{args.generations} generations in {args.generations} DAG runs (SQLite), "
            f"set up in {time.perf_counter() - started:.1f}s"
        )

        from airflow.api_fastapi.app import create_app, get_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
        from fastapi.testclient import TestClient

        with TestClient(create_app(), base_url="http://bench") as client:
            user = SimpleAuthManagerUser(username="admin", role="admin")
            headers = {"Authorization": f"Bearer {get_auth_manager().generate_jwt(user)}"}
            pages = -(-args.generations // 24)
            print(f"\n{'page':<44} {'median ms':>10} {'worst ms':>9}  generations shown / total")
            for label, url in (
                ("first page, all generations", "/grokvideo/"),
                ("status=failed", "/grokvideo/?status=failed"),
                (f"dag_id={DAG_ID}", f"/grokvideo/?dag_id={DAG_ID}"),
                (f"last page (page {pages})", f"/grokvideo/?page={pages}"),
                (
                    "one generation, by its id",
                    f"/grokvideo/?generation_id=task_bench_{args.generations // 2:06d}",
                ),
                (
                    'one task\'s (its "Grok video" link)',
                    f"/grokvideo/?dag_id={DAG_ID}&run_id=bench__{args.generations // 2 + 1:06d}"
                    "&task_id=download",
                ),
            ):
                times, answer = timed(client, url, headers, args.repeat)
                shown = answer.text.count('<article class="card')
                total = answer.text.split('id="summary">', 1)[1].split(" ", 1)[0]
                print(
                    f"{label:<44} {statistics.median(times):>10.1f} {max(times):>9.1f}"
                    f"  {shown} / {total}"
                )

            # A big stored video: seek near its end through the page's own route.
            from airflow.models.xcom import XComModel
            from airflow.utils.session import create_session
            from sqlalchemy import select

            big = home / "big.mp4"
            with big.open("wb") as out:
                out.write(b"\0\0\0\x18ftypmp42")
                out.truncate(args.video_mb * MB)
            with create_session() as session:
                row = session.scalars(
                    select(XComModel).where(
                        XComModel.key == "grokvideo",
                        XComModel.task_id == "download",
                        XComModel.run_id == run.run_id,
                    )
                ).one()
                row.value = {**row.value, "videos": [big.as_uri()]}
            params = {"dag_id": DAG_ID, "run_id": run.run_id, "task_id": "download"}
            size = args.video_mb * MB
            print(f"\nseek in a {args.video_mb} MB stored video (Range: bytes=START-)")
            for start in (0, size // 2, size - MB):
                before = rchar()
                began = time.perf_counter()
                with client.stream(
                    "GET",
                    "/grokvideo/file",
                    params=params,
                    headers={**headers, "Range": f"bytes={start}-"},
                ) as answer:
                    pieces = answer.iter_raw()
                    first = next(pieces)
                    first_ms = (time.perf_counter() - began) * 1000
                    body = len(first) + sum(len(piece) for piece in pieces)
                read = rchar() - before
                print(
                    f"  start {start / MB:6.1f} MiB: HTTP {answer.status_code}, first byte "
                    f"{first_ms:5.1f} ms, body {body / MB:.1f} MiB, the process read "
                    f"{read / MB:.1f} MiB of the {size / MB:.0f} MiB file"
                )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
