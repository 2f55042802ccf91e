"""pytest plugin: a running emulator for your tests.

Enable it in your ``conftest.py``::

    pytest_plugins = ["airflow_provider_grokvideo.emulator.pytest_plugin"]

Fixtures:

* ``grokvideo_emulator`` (function scope): the session's :class:`Emulator`, reset (no jobs, no
  faults, zeroed counters) before each test;
* ``grokvideo_emulator_session`` (session scope): the same emulator, not reset.

The emulator listens on ``127.0.0.1`` on a free port and accepts the default API key
(``emulator-key``).  Jobs last 1 second unless configured, first match wins:

* environment: ``GROKVIDEO_EMULATOR_JOB_SECONDS=0.5``
* ini option (``pytest.ini``/``pyproject.toml``): ``grokvideo_emulator_job_seconds = 0.5``

and the accepted key likewise: ``GROKVIDEO_EMULATOR_API_KEY`` / ``grokvideo_emulator_api_key``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from airflow_provider_grokvideo.emulator.defaults import DEFAULT_API_KEY

if TYPE_CHECKING:  # the server (uvicorn) loads only when a test asks for the emulator
    from airflow_provider_grokvideo.emulator.server import Emulator

#: Job duration of the plugin's emulator unless configured (short, for fast tests).
PLUGIN_JOB_SECONDS = 1.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "grokvideo_emulator_job_seconds",
        "Seconds a job of the grokvideo emulator lasts in tests (default 1.0)",
        default=str(PLUGIN_JOB_SECONDS),
    )
    parser.addini(
        "grokvideo_emulator_api_key",
        f"API key the grokvideo emulator accepts in tests (default {DEFAULT_API_KEY!r})",
        default=DEFAULT_API_KEY,
    )


def _setting(config: pytest.Config, env: str, ini: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    return str(config.getini(ini))


@pytest.fixture(scope="session")
def grokvideo_emulator_session(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """One emulator for the whole test session (not reset between tests)."""
    from airflow_provider_grokvideo.emulator.server import Emulator

    seconds = float(
        _setting(pytestconfig, "GROKVIDEO_EMULATOR_JOB_SECONDS", "grokvideo_emulator_job_seconds")
    )
    key = _setting(pytestconfig, "GROKVIDEO_EMULATOR_API_KEY", "grokvideo_emulator_api_key")
    with Emulator(api_key=key, job_seconds=seconds) as emulator:
        yield emulator


@pytest.fixture
def grokvideo_emulator(grokvideo_emulator_session: Emulator) -> Emulator:
    """The session's emulator, reset: no jobs, no pending faults, zeroed counters."""
    grokvideo_emulator_session.reset()
    return grokvideo_emulator_session
