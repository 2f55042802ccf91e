"""A generation's statuses (``statuses.py``): one vocabulary, light enough for a DAG parse."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

from airflow_provider_grokvideo import models, statuses


def test_the_statuses_nest_and_match_their_literal() -> None:
    assert get_args(statuses.Status) == statuses.STATUSES
    assert set(statuses.FAILED_STATUSES) < statuses.TERMINAL_STATUSES < set(statuses.STATUSES)
    assert statuses.TERMINAL_STATUSES - set(statuses.FAILED_STATUSES) == {"succeeded"}
    # One vocabulary: the model's names are these very objects.
    assert models.FAILED_STATUSES is statuses.FAILED_STATUSES
    assert models.TERMINAL_STATUSES is statuses.TERMINAL_STATUSES


def test_a_dag_parse_imports_no_model() -> None:
    code = (
        "import sys, airflow.sdk\n"
        "import airflow_provider_grokvideo.operators.generate\n"
        "import airflow_provider_grokvideo.sensors.video\n"
        "print(sorted(m for m in sys.modules if m.endswith(('.models', '.pricing'))"
        " and m.startswith('airflow_provider_grokvideo')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
