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
        # Only APIMart documents an Idempotency-Key: only its form asks whether it is honored.
        keyed = (
            {"idempotent_submits"} if entry["connection-type"] == "grokvideo_xcompute" else set()
        )
        assert set(entry["conn-fields"]) == {
            "model",
            "timeout",
            "relax_limits",
            "prices",
            "requests_per_second",
            "redis_conn_id",
            "budget_usd_per_day",
            "budget_usd_per_month",
            "budget_timezone",
            *keyed,
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


@pytest.mark.parametrize(
    ("conn_type", "dialect", "base_url", "key_source"),
    [
        ("grokvideo_xcompute", "xcompute", "https://xcompute.us", "xcompute.us account"),
        ("grokvideo_mountsea", "mountsea", "https://api.mountsea.ai", "api.mountsea.ai account"),
        ("grokvideo_xai", "xai", "https://api.x.ai", "console.x.ai"),
    ],
)
def test_each_connection_form_names_its_upstreams_defaults_and_key(
    conn_type, dialect, base_url, key_source
):
    [entry] = [
        e for e in get_provider_info()["connection-types"] if e["connection-type"] == conn_type
    ]
    default_model = importlib.import_module(
        f"airflow_provider_grokvideo.dialects.{dialect}"
    ).DIALECT.default_model
    placeholders = entry["ui-field-behaviour"]["placeholders"]
    assert placeholders["host"].startswith(f"{base_url} when empty")
    assert "path prefix kept" in placeholders["host"]
    assert placeholders["model"] == default_model
    help_text = entry["conn-fields"]["model"]["description"]
    assert default_model in help_text and base_url in help_text and key_source in help_text
    # The shared field definitions are copies: one form's help does not leak into another's.
    others = [
        e for e in get_provider_info()["connection-types"] if e["connection-type"] != conn_type
    ]
    assert all(o["conn-fields"]["model"]["description"] != help_text for o in others)


def test_the_videos_plugin_is_declared_both_ways_and_loads():
    from airflow_provider_grokvideo.plugins.grok_videos import GrokVideosPlugin

    [plugin] = get_provider_info()["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is GrokVideosPlugin
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.name == plugin["name"]]
    assert entry.load() is GrokVideosPlugin
    assert GrokVideosPlugin.name == plugin["name"]
    [app] = GrokVideosPlugin.fastapi_apps
    [view] = GrokVideosPlugin.external_views
    assert app["url_prefix"] == "/grokvideo" and view["href"] == "/grokvideo/"
    assert view["destination"] == "nav" and view["url_route"] == "grok-videos"


def test_pyproject_names_the_documentation():
    from importlib.metadata import distribution

    urls = distribution("airflow-provider-grokvideo").metadata.get_all("Project-URL") or []
    assert any(url.split(",")[0].strip().lower() == "documentation" for url in urls)
