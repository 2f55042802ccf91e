"""Fixtures of the real-deployment test (``make test-deploy``): the provider's wheel in a
clean virtual environment, PostgreSQL 15 (and Redis, for the CeleryExecutor), the emulators and
Airflow's components as separate processes, all started here and removed afterwards.

A scenario module gets a deployment of its own (a new database on the session's PostgreSQL,
a new ``AIRFLOW_HOME``): ``deployment`` is the LocalExecutor one; a module that needs another
shape builds it with :func:`running_deployment` in a fixture of its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.airflow_deployment import Deployment, running_deployment
from deploy.postgres import PostgresServer
from deploy.provider_venv import build_wheel, provider_venv
from deploy.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def say(request: pytest.FixtureRequest, text: str) -> None:
    """Print to the terminal at once, past pytest's capture (the figures, the progress)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(text, flush=True)


def reporter(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """:func:`say` for code outside the tests (the harness, the scenarios)."""
    return lambda text: say(request, text)


@pytest.fixture(scope="session")
def deploy_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="grokvideo-deploy-"))
    yield root
    if not os.environ.get("GROKVIDEO_DEPLOY_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def installed_provider(request: pytest.FixtureRequest, deploy_root: Path) -> Path:
    """A virtual environment with the provider installed from its wheel (not editable)."""
    started = time.monotonic()
    wheel = build_wheel(REPO, deploy_root / "wheel")
    venv, reused = provider_venv(wheel, deploy_root)
    say(
        request,
        f"deploy: {wheel.name} in {venv} "
        f"({'reused, same wheel contents' if reused else 'installed'}, "
        f"{time.monotonic() - started:.0f} s)",
    )
    return venv


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployment(
    request: pytest.FixtureRequest,
    installed_provider: Path,
    postgres: PostgresServer,
    deploy_root: Path,
) -> Iterator[Deployment]:
    """The LocalExecutor deployment on PostgreSQL, one per test module."""
    with running_deployment(
        reporter(request), installed_provider, deploy_root, postgres
    ) as deployment:
        yield deployment


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a deployment test fails, print the tail of every process's log."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in request.fixturenames:
        value = request.getfixturevalue(name) if "deployment" in name else None
        if isinstance(value, Deployment):
            say(request, value.diagnosis(lines=120))
