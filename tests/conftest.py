"""Test set-up shared by the whole suite.

Airflow reads its configuration when first imported, so the environment is set here, at
conftest import time, before any test module imports Airflow: a throw-away ``AIRFLOW_HOME``
with its own SQLite metadata database, and the DAGs folder pointed at ``example_dags/`` so
that ``dag.test()`` finds the example DAGs serialized.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"

_home = Path(tempfile.mkdtemp(prefix="grokvideo-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home / 'airflow.db'}"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"

pytest_plugins = ["airflow_provider_grokvideo.emulator.pytest_plugin"]


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite in the temporary AIRFLOW_HOME)."""
    from airflow.utils import db

    db.resetdb()
    _serialize_dags_folder_for_airflow_3_1_0()
    return _home


def _serialize_dags_folder_for_airflow_3_1_0() -> None:
    """Airflow 3.1.0's ``dag.test()`` runs only a DAG the DAG processor has already written to
    the metadata database ("the dag is not serialized"); from 3.1.1 on it parses the DAGs
    folder itself.  On 3.1.0 (the floor, ``make test-floor``), do what the processor does."""
    from airflow import __version__

    if __version__ != "3.1.0":
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dagbag import DagBag, sync_bag_to_db  # 3.1's place of both
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = DagBag(dag_folder=bundle.path, bundle_path=bundle.path, include_examples=False)
        sync_bag_to_db(bag, bundle.name, bundle.version)


@pytest.fixture
def emulator(grokvideo_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator, with a connection per upstream (``grokvideo_<upstream>_default``)."""
    from airflow_provider_grokvideo.emulator import UPSTREAMS

    for upstream in UPSTREAMS:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_GROKVIDEO_{upstream.upper()}_DEFAULT",
            grokvideo_emulator.airflow_connection(upstream),
        )
    return grokvideo_emulator


@pytest.fixture(autouse=True)
def unlearned_pacers() -> Any:
    """Each test starts with no pacer: they are per process, and what one test's injected 429s
    taught the sync pacer of a key would slow the next test's requests."""
    from airflow_provider_grokvideo.hooks import pacer

    pacer._SYNC.clear()
    yield
    pacer._SYNC.clear()


class _EndedByTrigger(BaseException):
    """A task-end event was handled: out of ``dag.test()``'s ``_run_task`` (which catches
    ``Exception`` only), without resuming the task."""


@pytest.fixture(autouse=True)
def dag_test_ends_tasks_like_a_deployment(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``dag.test()`` hands a trigger's task-end event (``TaskSuccessEvent``...) to the
    scheduler's own ``handle_event_submit``, as the triggerer does in a deployment.

    ``dag.test()`` (Airflow 3.1 to 3.3) runs a trigger inline and resumes the task with the
    event's payload whatever the event: a task that its trigger ends would be run again with
    ``event="success"`` (the operators cope, see ``_resume_after_task_end``, but then the tests
    would not see what a deployment does).  Returns the end events handled, in order.
    """
    try:
        from airflow.sdk.definitions import dag as dag_module
    except ImportError:  # pragma: no cover  (an Airflow without the SDK's dag.test)
        return []
    handled: list[Any] = []
    if not hasattr(dag_module, "_run_task") or not hasattr(dag_module, "_run_inline_trigger"):
        return handled  # pragma: no cover
    running: list[Any] = []
    original_run_task = dag_module._run_task
    original_run_inline_trigger = dag_module._run_inline_trigger

    def run_task(*, ti: Any, task: Any, run_triggerer: bool = False) -> Any:
        running.append(ti)
        try:
            return original_run_task(ti=ti, task=task, run_triggerer=run_triggerer)
        except _EndedByTrigger:
            return None
        finally:
            running.pop()

    def run_inline_trigger(trigger: Any, task_sdk_ti: Any) -> Any:
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import BaseTaskEndEvent
        from airflow.utils.session import create_session
        from sqlalchemy import select

        event = original_run_inline_trigger(trigger, task_sdk_ti)
        if not isinstance(event, BaseTaskEndEvent):
            return event
        with create_session() as session:
            ti = session.scalar(select(TaskInstance).where(TaskInstance.id == running[-1].id))
            handle_event_submit(event, task_instance=ti, session=session)
        handled.append(event)
        raise _EndedByTrigger

    run_task.__wrapped__ = original_run_task  # type: ignore[attr-defined]
    run_inline_trigger.__wrapped__ = original_run_inline_trigger  # type: ignore[attr-defined]
    monkeypatch.setattr(dag_module, "_run_task", run_task)
    monkeypatch.setattr(dag_module, "_run_inline_trigger", run_inline_trigger)
    return handled
