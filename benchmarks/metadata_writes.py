"""What one video writes to Airflow's metadata database, and how many Execution API calls its
tasks make: the two example DAGs run once each for real on the emulator (``dag.test()``, a
throw-away SQLite database; on xAI, which publishes its price, so the generate task has a cost
estimate), then their rows counted.

* ``example_grokvideo_text_to_video``: generate, then ``GrokVideoSensor`` (deferred), then
  download;
* ``example_grokvideo_generate_and_wait``: one generate task that waits itself, then download.

For each task: its XCom rows by key, its task state store rows, and the Execution API calls
its process made (every ``Client.request`` of the Task SDK: XCom pushes and reads, state store
writes, the task's start, heartbeats, state changes), by kind. Every XCom push and state store
write is one call to the API server and one row written; on SQLite each waits for the one
writer lock.

A wait that its trigger ends (Airflow 3.3.1+) makes no Execution API call to end: the
triggerer pushes its values through its own in-process Execution API (counted on their own
line, so that moving them hides nothing), and writes its state, a callback request (when the
task has a failure callback) and the links its event carries straight to the database, in the
scheduler's ``handle_event_submit`` (run here as in a deployment,
``tests/dag_test_support.py``).  Prints the figures; asserts nothing.

    .venv/bin/python benchmarks/metadata_writes.py
"""

from __future__ import annotations

import contextvars
import importlib.util
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
DAGS = ("example_grokvideo_text_to_video", "example_grokvideo_generate_and_wait")
_ID = re.compile(r"^[0-9a-f-]{36}$|^\d+$")


def configure(home: Path) -> None:
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "GROKVIDEO_POLL_INTERVAL": "0.3",
            "GROKVIDEO_MIN_POLL_INTERVAL": "0.1",
            "GROKVIDEO_MAX_POLL_INTERVAL": "0.5",
            "GROKVIDEO_DESTINATION": (home / "videos").as_uri(),
            # xAI publishes its price: the generate task has an estimate to keep.
            "GROKVIDEO_CONN_ID": "grokvideo_xai_default",
        }
    )


#: Set while a trigger pushes the XComs of the task it ends (``tasks.ending.push_xcoms``):
#: its calls are the triggerer's (its supervisor's in-process API server in a deployment).
_TRIGGERER: contextvars.ContextVar[bool] = contextvars.ContextVar("triggerer", default=False)


def count_triggerer_pushes() -> None:
    """Mark the calls made while a trigger pushes an ending's XComs as the triggerer's."""
    from airflow_provider_grokvideo.tasks import ending

    original = ending.push_xcoms

    async def push_xcoms(task: Any, xcoms: Any) -> None:
        token = _TRIGGERER.set(True)
        try:
            await original(task, xcoms)
        finally:
            _TRIGGERER.reset(token)

    ending.push_xcoms = push_xcoms  # type: ignore[assignment]


def count_calls() -> Counter[str]:
    """Count every Execution API call of the Task SDK's client from now on, by kind (those of
    the triggerer prefixed ``triggerer:``)."""
    from airflow.sdk.api import client

    calls: Counter[str] = Counter()

    def counted(function: Any) -> Any:
        def request(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            parts = [p for p in str(url).split("?")[0].split("/") if p and not _ID.match(p)]
            kind = parts[0] if parts else "?"
            if kind == "task-instances" and len(parts) > 1:
                kind = f"task-instances/{parts[-1]}"
            calls[f"{'triggerer:' if _TRIGGERER.get() else ''}{method} {kind}"] += 1
            return function(self, method, url, *args, **kwargs)

        return request

    original = client.Client.request
    request = counted(original)
    # dag.test()'s in-process client calls the method without its retry layer (__wrapped__).
    request.__wrapped__ = counted(original.__wrapped__)
    client.Client.request = request  # type: ignore[method-assign]
    return calls


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="grokvideo-writes-"))
    configure(home)
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.models.xcom import XComModel
    from airflow.utils import db
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_grokvideo.emulator import Emulator

    sys.path.insert(0, str(REPO / "tests"))
    from dag_test_support import ending_tasks_from_triggers

    db.resetdb()
    calls = count_calls()
    count_triggerer_pushes()
    with Emulator(job_seconds=2) as emulator:
        os.environ["AIRFLOW_CONN_GROKVIDEO_XAI_DEFAULT"] = emulator.airflow_connection("xai")
        for dag_id in DAGS:
            calls.clear()
            spec = importlib.util.spec_from_file_location(
                dag_id, REPO / "example_dags" / f"{dag_id}.py"
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            with ending_tasks_from_triggers() as ended:
                run = module.dag.test()
            with create_session() as session:
                xcoms = session.scalars(
                    select(XComModel).where(XComModel.run_id == run.run_id)
                ).all()
                states = session.scalars(
                    select(TaskStateStoreModel).where(TaskStateStoreModel.run_id == run.run_id)
                ).all()
            by_task: dict[str, Counter[str]] = {}
            for row in xcoms:
                by_task.setdefault(row.task_id, Counter())[row.key] += 1
            state_rows = Counter(row.task_id for row in states)
            print(f"{dag_id}: run {run.state}")
            for task_id, keys in by_task.items():
                print(
                    f"  {task_id}: XCom rows {sum(keys.values())} ({', '.join(sorted(keys))}), "
                    f"state store rows {state_rows.get(task_id, 0)}"
                )
            tasks = Counter({k: n for k, n in calls.items() if not k.startswith("triggerer:")})
            triggerer = Counter(
                {k.removeprefix("triggerer:"): n for k, n in calls.items() if k not in tasks}
            )
            for who, counted in (("the run's tasks", tasks), ("the triggerer", triggerer)):
                top = ", ".join(f"{kind} {n}" for kind, n in counted.most_common())
                print(f"  Execution API calls of {who}: {sum(counted.values())} ({top})")
            carried = sum(len(getattr(event, "xcoms", None) or {}) for event in ended)
            print(
                f"  in all: {sum(calls.values())}; the triggerer also wrote the state of the "
                f"{len(ended)} task(s) it ended (one task instance row each, and a callback "
                f"request for a task with a callback) and the {carried} link(s) their events "
                "carried, in the same transaction"
            )


if __name__ == "__main__":
    main()
