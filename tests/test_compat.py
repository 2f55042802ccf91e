"""compat.py, the one home of version-dependent Airflow names, and the floor it declares.

The main test imports every module of the provider in a fresh interpreter with the shims'
fallbacks forced (each name from its oldest supported location), so that a name missing from
a fallback fails here, not in a user's DAG on an older Airflow.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from repo_paths import REPO

from airflow_provider_grokvideo import compat
from airflow_provider_grokvideo.get_provider_info import MIN_AIRFLOW_VERSION, get_provider_info

PACKAGE = Path(compat.__file__).resolve().parent

IMPORT_ALL_WITH_FALLBACKS = textwrap.dedent(
    """
    import importlib, json, pkgutil

    from airflow_provider_grokvideo import compat

    compat.FALLBACK_ONLY = True
    import airflow_provider_grokvideo as package

    modules = [
        info.name
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if not info.name.endswith(".__main__")
    ]
    resolved = {}
    for name in modules:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr in compat._LOCATIONS and module is not compat:
                resolved.setdefault(attr, []).append(name)
                # Whatever a module holds under a shimmed name is the fallback's object.
                assert value is compat._resolve(attr), (name, attr)
    newest = {}
    for attr in compat._LOCATIONS:
        fallback = getattr(compat, attr)
        compat.FALLBACK_ONLY = False
        try:
            current = compat._resolve(attr)
        finally:
            compat.FALLBACK_ONLY = True
        newest[attr] = current is fallback
    print(json.dumps({"modules": modules, "users": resolved, "same_as_newest": newest}))
    """
)


def test_every_module_imports_with_the_fallbacks_forced() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL_WITH_FALLBACKS],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {
        "airflow_provider_grokvideo.operators.generate",
        "airflow_provider_grokvideo.operators.download",
        "airflow_provider_grokvideo.sensors.video",
        "airflow_provider_grokvideo.triggers.video",
        "airflow_provider_grokvideo.hooks.xai",
        "airflow_provider_grokvideo.emulator.server",
        "airflow_provider_grokvideo.tasks.links",
    }
    assert expected <= set(report["modules"])
    # The submit (moved out of the generate operator) fails its tasks with compat's class.
    assert "airflow_provider_grokvideo.tasks.submit" in report["users"]["AirflowFailException"]
    # The exceptions' old homes hold the very classes of the new ones where both exist, so
    # Airflow's task runner treats what we raise the same whichever place it came from.
    for name in ("AirflowException", "AirflowFailException", "AirflowSensorTimeout"):
        assert report["same_as_newest"][name], name


def _runtime_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Import statements outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.ImportFrom | ast.Import] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_module_bypasses_compat_for_a_version_dependent_name() -> None:
    shimmed = set(compat._LOCATIONS)
    homes = {location.partition(":")[0] for locs in compat._LOCATIONS.values() for location in locs}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(compat.__file__).resolve():
            continue
        source = path.read_text()
        tree = ast.parse(source)
        for node in _runtime_imports(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow."):
                names = {alias.name for alias in node.names}
                if node.module in homes or names & shimmed:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
        # A KeyError on every Airflow before 3.3: use compat.task_state_store(context).
        for match in re.finditer(r"\[\s*['\"]task_state_store['\"]\s*\]", source):
            line = source.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(REPO)}:{line} context['task_state_store']")
    assert not offenders, "import these from airflow_provider_grokvideo.compat:\n" + "\n".join(
        offenders
    )


def test_task_state_store_degrades_with_one_clear_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=compat.__name__)
    assert compat.task_state_store({}) is None  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.name == compat.__name__]
    assert "crash recovery needs Airflow 3.3" in record.getMessage()
    assert compat.AIRFLOW_VERSION in record.getMessage()
    store = object()
    assert compat.task_state_store({"task_state_store": store}) is store  # type: ignore[typeddict-item]
    assert len([r for r in caplog.records if r.name == compat.__name__]) == 1


def test_never_expire_falls_back_to_the_default_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "FALLBACK_ONLY", True)
    assert compat._resolve("NEVER_EXPIRE") is None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        compat.NotAnAirflowName  # noqa: B018


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3.1.0", (3, 1, 0)), ("3.1.8", (3, 1, 8)), ("3.2.0rc1", (3, 2, 0)), ("3.4", (3, 4, 0))],
)
def test_version_tuple(text: str, expected: tuple[int, int, int]) -> None:
    assert compat._version_tuple(text) == expected


def test_an_older_airflow_is_refused_with_one_sentence() -> None:
    code = "import airflow; airflow.__version__ = '3.0.6'; import airflow_provider_grokvideo.compat"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert (
        f"RuntimeError: airflow-provider-grokvideo needs Apache Airflow {MIN_AIRFLOW_VERSION} or "
        "newer; this is Airflow 3.0.6"
    ) in result.stderr


def test_the_floor_is_the_same_everywhere_it_is_said() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.findall(r'"apache-airflow>=([^"]*)"', pyproject) == [MIN_AIRFLOW_VERSION]
    assert get_provider_info()["dependencies"] == [f"apache-airflow>={MIN_AIRFLOW_VERSION}"]
    floor_pins = (REPO / ".ci" / "floor-constraints.txt").read_text()
    assert f"\napache-airflow=={MIN_AIRFLOW_VERSION}\n" in floor_pins  # CI tests the floor itself
    major_minor = ".".join(MIN_AIRFLOW_VERSION.split(".")[:2])
    assert f"Airflow {major_minor}" in (REPO / "README.md").read_text()
