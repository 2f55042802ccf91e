"""Test set-up shared by the whole suite.

Airflow reads its configuration when first imported, so the environment is set here, at
conftest import time, before any test module imports Airflow: a throw-away ``AIRFLOW_HOME``
with its own SQLite metadata database, and the DAGs folder pointed at ``example_dags/`` so
that ``dag.test()`` finds the example DAGs serialized.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from repo_paths import EXAMPLE_DAGS

_home = Path(tempfile.mkdtemp(prefix="grokvideo-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home / 'airflow.db'}"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"

pytest_plugins = ["airflow_provider_grokvideo.emulator.pytest_plugin", "s3_support"]


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
def fresh_runtimes() -> Any:
    """Each test starts with no connection runtime: the sync ones live as long as the process,
    and what one test's injected 429s taught a key's pacer would slow the next test's
    requests."""
    from airflow_provider_grokvideo.hooks import runtime

    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture(autouse=True)
def dag_test_ends_tasks_like_a_deployment() -> Iterator[list[Any]]:
    """``dag.test()`` hands a trigger's task-end event to the scheduler's own handler, as the
    triggerer does in a deployment (``dag_test_support.ending_tasks_from_triggers``).  Yields
    the end events handled, in order."""
    from dag_test_support import ending_tasks_from_triggers

    with ending_tasks_from_triggers() as handled:
        yield handled
