"""``make test-floor``: the example DAGs and the import-cost check on the oldest supported Airflow.

Run by the floor virtual environment's Python (``.venv-floor``, made by ``make test-floor``
with ``.ci/floor-constraints.txt``), with the provider installed from a wheel, not editable;
``make test-32`` runs the same on the newest Airflow 3.2 (``.venv-32``,
``.ci/airflow-3.2-constraints.txt``).
It runs the pytest selection below (every example DAG under ``dag.test()`` on the bundled
emulator, the trigger executed; the import-cost check; the compat shims; the deferral guard;
the task links as the API server reads them)
and prints the Airflow version, then one line per DAG run: the DAG, its connection, its
state, its tasks' states and the events its triggers fired.  Exits with pytest's status.

    .venv-floor/bin/python scripts/test_floor.py [extra pytest arguments or test files]

Test files given as arguments replace the selection (``make test-floor-canary`` runs the
deferral guard alone first).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SELECTION = (
    "tests/integration/test_example_dags.py",
    "tests/test_import_cost.py",
    "tests/test_compat.py",
    "tests/integration/test_deferral_guard.py",
    # The page link, given by the plugin to our operators' tasks as the API server reads them.
    "tests/tasks/test_links.py",
)


class FloorReport:
    """A pytest plugin recording every ``dag.test()`` run and every trigger event."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self._events: list[str] = []

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Airflow is imported only now, after tests/conftest.py set AIRFLOW_HOME and the rest.
        from airflow.sdk import DAG

        from airflow_provider_grokvideo.triggers.video import GrokVideoTrigger

        report = self
        original_test = DAG.test
        original_run = GrokVideoTrigger.run

        def test(dag: Any, *args: Any, **kwargs: Any) -> Any:
            report._events = []
            started = time.monotonic()
            run = original_test(dag, *args, **kwargs)
            tasks = Counter(str(ti.state) for ti in run.get_task_instances())
            report.runs.append(
                {
                    "dag_id": dag.dag_id,
                    "test": os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[-1].split()[0],
                    "conn_id": (kwargs.get("run_conf") or {}).get("conn_id", "(default)"),
                    "state": str(run.state),
                    "seconds": time.monotonic() - started,
                    "tasks": dict(tasks),
                    "events": list(report._events),
                }
            )
            return run

        async def run(trigger: Any) -> Any:
            async for event in original_run(trigger):
                payload = event.payload  # a task-end event's is the state's name (3.3.1+)
                status = payload.get("status") if isinstance(payload, dict) else payload
                report._events.append(str(status))
                yield event

        DAG.test = test  # type: ignore[method-assign]
        GrokVideoTrigger.run = run  # type: ignore[method-assign]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        write("")
        write(f"apache-airflow {version('apache-airflow')}; DAG runs under dag.test():")
        for r in self.runs:
            tasks = ", ".join(f"{n} {state}" for state, n in sorted(r["tasks"].items()))
            events = ", ".join(r["events"]) or "none"
            write(
                f"  {r['dag_id']:<34} {r['conn_id']:<28} {r['state']:<8} {r['seconds']:5.1f}s"
                f"  tasks: {tasks}; trigger events: {events}  [{r['test']}]"
            )
        write(f"  {len(self.runs)} DAG runs")


def main() -> int:
    import airflow_provider_grokvideo

    location = Path(airflow_provider_grokvideo.__file__).resolve()
    print(f"Python {sys.version.split()[0]}; apache-airflow {version('apache-airflow')}")
    print(f"airflow-provider-grokvideo {version('airflow-provider-grokvideo')} from {location}")
    if "site-packages" not in location.parts:
        print("the provider must be installed (not editable), not imported from the checkout")
        return 2
    # Airflow 3.1 starts each task of dag.test() more slowly: with the suite's 1 s jobs the
    # video is done before the sensor runs, the sensor's check-before-defer finishes it on the
    # worker, and the tests that prove the trigger ran see no trigger.  Jobs of 4 s defer.
    os.environ.setdefault("GROKVIDEO_EMULATOR_JOB_SECONDS", "4")
    report = FloorReport()
    extra = sys.argv[1:]
    files = [a for a in extra if a.startswith("tests/")] or list(SELECTION)
    options = [a for a in extra if not a.startswith("tests/")]
    args = ["-p", "no:cacheprovider", "-q", "--rootdir", str(REPO), *options]
    return int(pytest.main([*args, *(str(REPO / f) for f in files)], [report]))


if __name__ == "__main__":
    sys.exit(main())
