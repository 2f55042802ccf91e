"""The "Grok videos" Airflow plugin: a page of recent generations in Airflow's own UI.

- A FastAPI app (``app.py``), mounted by the API server under :data:`URL_PREFIX`
  (``/grokvideo``): the page, the stored files (``/file``, range requests, only from the storage
  roots the API server allows) and an icon.
- An ``external_views`` entry: a "Grok videos" item in the UI's navigation, which shows the page
  inside Airflow's UI (``/plugin/grok-videos``).
- The "Grok video" link of our operators' tasks (``tasks/links.py``), computed by the API server
  from the task instance's key when the UI asks: no task pushes it.

Airflow's task runner integrates every installed plugin at each task start
(``get_template_context`` -> ``integrate_macros_plugins``), so this module is imported in every
task process of a deployment, of every DAG: it is as light as a DAG-parse import.  FastAPI,
Starlette and Jinja2 are imported only when something reads ``fastapi_apps``, which is what the
API server does (``airflow.plugins_manager.get_fastapi_plugins`` -> ``init_plugins``);
``tests/test_import_cost.py`` keeps it so, ``benchmarks/import_time.py`` measures it.

Declared twice, as Airflow's own providers do: in ``get_provider_info()["plugins"]`` (loaded
when ``[core] lazy_discover_providers`` is off) and as an ``airflow.plugins`` entry point
(loaded always); Airflow skips the second copy by name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_grokvideo.plugins import URL_PREFIX

#: The page's route inside Airflow's UI (``/plugin/<this>``).
UI_ROUTE = "grok-videos"
PLUGIN_NAME = "grokvideo"


@cache
def fastapi_apps() -> list[dict[str, Any]]:
    """The plugin's FastAPI apps, built once, when first asked for."""
    from airflow_provider_grokvideo.plugins.app import create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Grok videos"}]


def our_operators() -> list[type]:
    """The operators whose tasks get the "Grok video" link from the API server.  Airflow
    matches a task to them by class name and module: a subclass lists the link itself."""
    from airflow_provider_grokvideo.operators.download import GrokVideoDownloadOperator
    from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
    from airflow_provider_grokvideo.operators.extend import GrokVideoExtendOperator
    from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
    from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

    return [
        GrokVideoGenerateOperator,
        GrokVideoEditOperator,
        GrokVideoExtendOperator,
        GrokVideoSensor,
        GrokVideoDownloadOperator,
    ]


@cache
def operator_extra_links() -> list[Any]:
    """The "Grok video" link, which the API server gives our operators' tasks."""
    from airflow_provider_grokvideo.tasks.links import GrokVideoLink

    link = GrokVideoLink()
    link.operators = our_operators()  # type: ignore[misc]  # the SDK types it a ClassVar
    return [link]


class _BuiltWhenRead:
    """A class attribute built on first read (of the class or an instance), so that loading
    the plugin, as every task start does, builds and imports nothing."""

    def __init__(self, build: Callable[[], list[Any]]) -> None:
        self.build = build

    def __get__(self, instance: object, owner: type | None = None) -> list[Any]:
        return self.build()


class GrokVideosPlugin(AirflowPlugin):
    """Adds the "Grok videos" page (and its navigation entry) to Airflow's UI."""

    name = PLUGIN_NAME
    fastapi_apps = _BuiltWhenRead(fastapi_apps)  # type: ignore[assignment]
    operator_extra_links = _BuiltWhenRead(operator_extra_links)  # type: ignore[assignment]
    external_views = [  # noqa: RUF012
        {
            "name": "Grok videos",
            "href": f"{URL_PREFIX}/",
            "icon": f"{URL_PREFIX}/icon.svg",
            "url_route": UI_ROUTE,
            "destination": "nav",
        }
    ]
