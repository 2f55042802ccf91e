"""The "Grok videos" plugin (``plugins/grok_videos.py``): what Airflow's API server mounts, and a
navigation entry whose links the mounted app answers.  (That loading it at a task start builds
nothing is ``tests/test_import_cost.py``'s.)"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_grokvideo.plugins import URL_PREFIX
from airflow_provider_grokvideo.plugins.grok_videos import PLUGIN_NAME, UI_ROUTE, GrokVideosPlugin


def test_airflows_plugins_manager_mounts_the_page_under_its_prefix() -> None:
    from airflow import plugins_manager

    if not hasattr(plugins_manager, "get_fastapi_plugins"):  # Airflow 3.1 names it otherwise
        pytest.skip("this Airflow lists FastAPI plugins under another name")
    apps, _middlewares = plugins_manager.get_fastapi_plugins()
    [ours] = [app for app in apps if app["name"] == "Grok videos"]
    assert ours["url_prefix"] == URL_PREFIX and isinstance(ours["app"], FastAPI)


def test_the_navigation_entry_links_what_the_app_serves() -> None:
    [view] = GrokVideosPlugin.external_views
    assert (GrokVideosPlugin.name, view["url_route"], view["destination"]) == (
        PLUGIN_NAME,
        UI_ROUTE,
        "nav",
    )
    [app] = GrokVideosPlugin.fastapi_apps
    client = TestClient(app["app"])
    for link in (view["href"], view["icon"]):
        assert link.startswith(f"{URL_PREFIX}/"), link
    icon = client.get(view["icon"].removeprefix(URL_PREFIX))
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    page = client.get(view["href"].removeprefix(URL_PREFIX))
    assert page.status_code in (401, 403)  # there, and behind Airflow's authentication
