"""The tests mirror the package: ``airflow_provider_grokvideo/<subpackage>/<module>.py`` is tested
in ``tests/<subpackage>/test_<module>.py`` (``__main__.py`` in ``test_main.py``), as Airflow's own
repository checks.  A new module without a test file fails here, naming it; so does a test file
whose module was renamed or deleted.

A module's tests may run over several files named ``test_<module>_<topic>.py`` beside it.  Runs
that cross many modules (example DAGs, the demo, ``dag.test()`` runs of several tasks) live in
``tests/integration/``; the deployment and browser tests (``make test-deploy``) in
``tests/deploy/`` and ``tests/browser/``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from repo_paths import REPO

PACKAGE = REPO / "airflow_provider_grokvideo"
TESTS = REPO / "tests"

#: Modules with nothing of their own to test: constants read by modules whose tests use them.
NO_TEST_FILE = {
    "emulator/defaults.py",  # the emulator's default key, job length and names; no code
    "hooks/budget_rules.py",  # the budget's AIMD numbers, asserted through both budgets' tests
}
#: Modules without a test file yet: a module may come in on this list (with a comment saying
#: where it is exercised meanwhile), and comes off it with its test file; the check warns with
#: the list, and fails on a listed module that has one.  Empty since item 7 of issue 29.
NOT_YET: set[str] = set()

#: Test folders that mirror no module: see the module docstring.
NOT_MIRRORED = {"integration", "deploy", "browser", "dags"}
#: Test files at the top level that check the package as a whole, not one module.
PACKAGE_WIDE = {"test_layout.py", "test_import_graph.py", "test_import_cost.py"}


def mirror_of(module: Path) -> Path:
    """``budget/ledger.py`` -> ``tests/budget/test_ledger.py``."""
    relative = module.relative_to(PACKAGE)
    stem = "main" if module.stem == "__main__" else module.stem
    return TESTS.joinpath(*relative.parts[:-1], f"test_{stem}.py")


def package_modules() -> list[str]:
    """Every module of the package, relative to it; ``__init__.py`` files only declare the
    package or re-export what their modules define, and are tested through those modules."""
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )


def test_every_module_has_a_test_file() -> None:
    missing = [
        f"{module} -> {mirror_of(PACKAGE / module).relative_to(REPO)}"
        for module in package_modules()
        if module not in NO_TEST_FILE | NOT_YET and not mirror_of(PACKAGE / module).exists()
    ]
    assert not missing, "modules without a test file:\n  " + "\n  ".join(missing)
    if NOT_YET:
        warnings.warn(
            f"{len(NOT_YET)} modules have no test file yet: {sorted(NOT_YET)}", stacklevel=1
        )


def test_the_exception_lists_name_only_modules_that_need_them() -> None:
    modules = set(package_modules())
    unknown = sorted((NO_TEST_FILE | NOT_YET) - modules)
    assert not unknown, f"listed but no such module (renamed or deleted?): {unknown}"
    done = sorted(m for m in NOT_YET | NO_TEST_FILE if mirror_of(PACKAGE / m).exists())
    assert not done, f"these have a test file now; take them off the list: {done}"


def test_every_test_file_mirrors_a_module() -> None:
    modules = {mirror_of(PACKAGE / m).with_suffix("") for m in package_modules()}
    orphans = []
    for path in TESTS.rglob("test_*.py"):
        relative = path.relative_to(TESTS)
        if relative.parts[0] in NOT_MIRRORED or relative.as_posix() in PACKAGE_WIDE:
            continue
        stem = path.with_suffix("")
        # test_<module>.py, or test_<module>_<topic>.py beside it.
        if not any(
            stem == m or (stem.name.startswith(f"{m.name}_") and stem.parent == m.parent)
            for m in modules
        ):
            orphans.append(relative.as_posix())
    assert not orphans, "test files that mirror no module (renamed or deleted?):\n  " + (
        "\n  ".join(sorted(orphans))
    )
