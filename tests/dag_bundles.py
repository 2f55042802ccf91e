"""A DAG file under ``tests/dags/`` imported and registered as a DAG bundle of its own:
``dag.test()`` only runs a DAG found in a bundle."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

DAGS = Path(__file__).resolve().parent / "dags"


@contextlib.contextmanager
def dag_module(name: str, bundle: str) -> Iterator[ModuleType]:
    """``tests/dags/<name>.py``, imported, with ``tests/dags`` as the bundle ``bundle`` beside
    the DAGs folder (for as long as the context lasts)."""
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": bundle,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS)},
        },
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
        patch.setattr(sys, "path", list(sys.path))  # the bundle's parse appends its folder
        spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        patch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        yield module
