"""A local emulator of the three Grok video upstreams (xcompute, Mountsea and xAI).

One HTTP server answers each upstream's API under its own path prefix (``/xcompute``,
``/mountsea``, ``/xai``), serves the finished videos from its own small "CDN" (``/cdn``) and is
steered by per-job prompt markers (``[emulator:fail]``), global faults
(``POST /_emulator/faults``) and outages that put an upstream down until told otherwise
(``PUT /_emulator/outages``; an upstream can also be served on a port of its own, to refuse its
connections).  It is written from ``UPSTREAMS.md`` alone and imports neither the
provider's dialects nor its hooks, nor Airflow.

Importing this package is cheap: the server (uvicorn, Starlette) loads only when
:class:`Emulator` or :func:`create_app` is first used.

>>> from airflow_provider_grokvideo.emulator import Emulator, DEFAULT_API_KEY
>>> with Emulator(job_seconds=1) as emu:               # doctest: +SKIP
...     base = emu.base_url("xai")                      # http://127.0.0.1:PORT/xai
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.emulator.defaults import (
    DEFAULT_API_KEY,
    DEFAULT_JOB_SECONDS,
    DEFAULT_MAX_JOBS,
    ENDPOINTS,
    UPSTREAMS,
)

if TYPE_CHECKING:
    from airflow_provider_grokvideo.emulator.app import EmulatorApp, create_app
    from airflow_provider_grokvideo.emulator.server import Emulator

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_JOB_SECONDS",
    "DEFAULT_MAX_JOBS",
    "ENDPOINTS",
    "UPSTREAMS",
    "Emulator",
    "EmulatorApp",
    "create_app",
]

_LAZY = {
    "Emulator": "airflow_provider_grokvideo.emulator.server",
    "EmulatorApp": "airflow_provider_grokvideo.emulator.app",
    "create_app": "airflow_provider_grokvideo.emulator.app",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
