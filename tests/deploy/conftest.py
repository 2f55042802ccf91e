"""Fixtures of the real-deployment test (``make test-deploy``): the provider's wheel in a
clean virtual environment, PostgreSQL 15 (and Redis, for the CeleryExecutor), the emulators and
Airflow's components as separate processes, all started here and removed afterwards.

A scenario module gets a deployment of its own (a new database on the session's PostgreSQL,
a new ``AIRFLOW_HOME``): ``deployment`` is the LocalExecutor one; a module that needs another
shape builds it with :func:`running_deployment` in a fixture of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.airflow_deployment import Deployment
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


_homes = itertools.count(1)


@contextlib.contextmanager
def running_deployment(
    request: pytest.FixtureRequest,
    venv: Path,
    deploy_root: Path,
    postgres: PostgresServer | None,
    *,
    job_seconds: float = 5,
    configure: Callable[[Deployment], None] | None = None,
    **options: Any,
) -> Iterator[Deployment]:
    """A deployment in a new ``AIRFLOW_HOME`` (and a new database of ``postgres``): the
    emulators started, ``configure`` called (connection extras...), migrated, Airflow started
    with ``options`` of :meth:`Deployment.start_airflow`; stopped afterwards. Keyword
    arguments of :class:`Deployment` (``settings``, ``database_url``) go in ``options`` too."""
    started = time.monotonic()
    number = next(_homes)
    home = deploy_root / f"airflow-home-{number}"
    home.mkdir()
    init = {key: options.pop(key) for key in ("settings", "database_url") if key in options}
    if postgres is not None and "database_url" not in init:
        init["database"] = f"airflow_{number}"
        postgres.create_database(init["database"])
    deployment = Deployment(venv, postgres, home, **init)
    try:
        deployment.start_emulators(
            job_seconds=job_seconds, rate_limits=options.pop("rate_limits", None)
        )
        if configure is not None:
            configure(deployment)
        deployment.migrate()
        deployment.start_airflow(**options)
        say(
            request,
            f"deploy: Airflow up on {deployment.database_url} in "
            f"{time.monotonic() - started:.0f} s ({home})",
        )
        yield deployment
    except BaseException:
        say(request, deployment.diagnosis())
        raise
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def deployment(
    request: pytest.FixtureRequest,
    installed_provider: Path,
    postgres: PostgresServer,
    deploy_root: Path,
) -> Iterator[Deployment]:
    """The LocalExecutor deployment on PostgreSQL, one per test module."""
    with running_deployment(request, installed_provider, deploy_root, postgres) as deployment:
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
