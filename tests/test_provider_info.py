"""The provider's metadata, as Airflow reads it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_grokvideo.get_provider_info import get_provider_info

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_grokvideo"
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


def test_provider_info_validates_against_airflows_own_schema():
    schema_path = Path(airflow.__file__).with_name("provider_info.schema.json")
    jsonschema.validate(get_provider_info(), json.loads(schema_path.read_text()))


def test_entry_point_is_registered():
    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_grokvideo")
    ]
    assert entry.load() is get_provider_info


def test_every_declared_module_and_class_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for group in info[section]:
            for module in group["python-modules"]:
                importlib.import_module(module)
    for transfer in info["transfers"]:
        importlib.import_module(transfer["python-module"])
    for entry in info["connection-types"]:
        module, _, name = entry["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == entry["connection-type"]
        assert hook.hook_name == entry["hook-name"]
    for path in info["extra-links"]:
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name)


def test_every_module_is_declared():
    """Airflow's own rule: each hook, operator, sensor, trigger and transfer module is declared."""
    info = get_provider_info()
    declared = {
        m
        for s in ("hooks", "operators", "sensors", "triggers")
        for g in info[s]
        for m in g["python-modules"]
    } | {t["python-module"] for t in info["transfers"]}
    for folder in ("hooks", "operators", "sensors", "triggers", "transfers"):
        for path in (PACKAGE / folder).glob("*.py"):
            if path.name != "__init__.py":
                assert f"airflow_provider_grokvideo.{folder}.{path.stem}" in declared


def test_connection_form_shows_only_what_matters():
    for entry in get_provider_info()["connection-types"]:
        behaviour = entry["ui-field-behaviour"]
        assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
        assert set(behaviour["hidden-fields"]) == {"schema", "login", "port", "extra"}
        assert set(entry["conn-fields"]) == {
            "model",
            "timeout",
            "relax_limits",
            "prices",
            "requests_per_second",
        }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["providers", "list"], ["airflow-provider-grokvideo"]),
        (
            ["providers", "hooks"],
            [
                "grokvideo_xcompute",
                "XComputeVideoHook",
                "grokvideo_mountsea",
                "MountseaVideoHook",
                "grokvideo_xai",
                "XAIVideoHook",
            ],
        ),
    ],
)
def test_airflow_cli_lists_the_provider(args, expected, tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run(
        [str(AIRFLOW_BIN), *args, "--output", "plain"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    for word in expected:
        assert word in out
