"""Importing the operator and the sensor (what every DAG parse does) opens no socket, reads no
connection and loads no HTTP client; checked in a fresh interpreter, without timing anything."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PARSE_LIKE_A_DAG_FILE = textwrap.dedent(
    """
    import socket
    import sys

    def refuse_socket(self, *args, **kwargs):
        raise AssertionError(f"socket opened during a DAG parse: {args!r}")

    socket.socket.connect = refuse_socket
    socket.socket.connect_ex = refuse_socket
    socket.create_connection = refuse_socket

    import airflow.sdk
    from airflow.sdk.bases.hook import BaseHook

    def refuse_connection(*args, **kwargs):
        raise AssertionError(f"connection read during a DAG parse: {args!r}")

    BaseHook.get_connection = classmethod(refuse_connection)
    BaseHook.aget_connection = classmethod(refuse_connection)
    before = set(sys.modules)

    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
    from airflow_provider_grokvideo.operators.extend import GrokVideoExtendOperator
    from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
    from airflow_provider_grokvideo.sensors.video import GrokVideoSensor

    with DAG("parse_check", schedule=None, start_date=datetime(2025, 1, 1)):
        generate = GrokVideoGenerateOperator(
            task_id="generate", conn_id="grokvideo_xai_default", prompt="{{ params.p }}"
        )
        GrokVideoSensor(task_id="wait", conn_id="grokvideo_xai_default",
                        generation_id=generate.output)
        mapped = GrokVideoGenerateOperator.partial(
            task_id="many", conn_id="grokvideo_xai_default"
        ).expand(prompt=["a", "b"])
        GrokVideoSensor.partial(task_id="wait_many", conn_id="grokvideo_xai_default").expand(
            generation_id=mapped.output
        )
        longer = GrokVideoExtendOperator(
            task_id="extend", conn_id="grokvideo_xai_default", prompt="next",
            video_url=generate.output, duration=10, wait_for_completion=True,
        )
        GrokVideoEditOperator.partial(
            task_id="edits", conn_id="grokvideo_xai_default", video_url=longer.output
        ).expand(prompt=["a", "b"])
        # Direct delivery, a voice and a Files copy: PyAV and the storage providers only load
        # when the task runs.
        GrokVideoGenerateOperator(
            task_id="spot", conn_id="grokvideo_xai_default", prompt="p",
            model="grok-imagine-video-1.5", reference_audios=["ara"], generate_audio=True,
            storage_options={"expires_after": 3600},
            keyframes=[{"image": {"url": "https://a.example/k.png"}, "timestamp_s": 1}],
            deliver_to="s3://aws_default@bucket/spots/{{ ts_nodash }}.mp4", on_mismatch="fail",
        )

    new = set(sys.modules) - before
    heavy = sorted(
        name for name in new
        if name.split(".")[0]
        in ("httpx", "httpx_aiohttp", "aiohttp", "tenacity", "requests", "av", "boto3",
            "botocore", "google")
        or name.startswith("airflow.providers.amazon")
        or name.startswith("airflow.providers.google")
        or name.startswith("airflow_provider_grokvideo.delivery")
        or name.startswith("airflow_provider_grokvideo.hooks")
        # The poll spacing (pure: the defaults the operators' signatures show) is no trigger.
        or name.startswith("airflow_provider_grokvideo.triggers")
        and name not in ("airflow_provider_grokvideo.triggers",
                         "airflow_provider_grokvideo.triggers.polling")
        or name.startswith("airflow_provider_grokvideo.emulator")
        or name == "airflow.triggers.base"
    )
    print("HEAVY", heavy)
    """
)


def test_importing_operator_and_sensor_opens_no_socket_and_reads_no_connection() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PARSE_LIKE_A_DAG_FILE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    heavy_line = next(line for line in result.stdout.splitlines() if line.startswith("HEAVY"))
    assert heavy_line == "HEAVY []", heavy_line


# What every task start pays for our plugin: Airflow's task runner integrates every installed
# plugin (``get_template_context`` -> ``integrate_macros_plugins``), so the plugin module is
# imported in every task process, of every DAG.  The web stack it needs on the API server must
# not come with it: after ``import airflow.sdk`` (and the task runner), FastAPI, Starlette and
# Jinja2 are removed from ``sys.modules`` and any new import of them fails, then the plugin is
# loaded the way a task start loads it.
TASK_START_WITH_THE_WEB_STACK_REFUSED = textwrap.dedent(
    """
    import importlib.abc
    import sys

    import airflow.sdk
    from airflow.sdk.execution_time import task_runner  # noqa: F401

    WEB = ("fastapi", "starlette", "jinja2")

    class RefuseTheWebStack(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in WEB:
                raise ImportError(f"{name} imported at a task start")
            return None

    for name in [n for n in sys.modules if n.split(".")[0] in WEB]:
        del sys.modules[name]
    sys.meta_path.insert(0, RefuseTheWebStack())
    before = set(sys.modules)

    import airflow_provider_grokvideo.plugins.grok_videos as module
    try:  # the Task SDK's plugins manager since 3.2; core's on 3.1
        from airflow.sdk.plugins_manager import _get_plugins, integrate_macros_plugins

        integrate_macros_plugins()
        plugins = _get_plugins()[0]
    except ImportError:
        from airflow import plugins_manager

        plugins_manager.integrate_macros_plugins()
        plugins = plugins_manager.plugins or []
    [plugin] = [p for p in plugins if p.name == "grokvideo"]
    assert plugin.external_views[0]["href"] == "/grokvideo/"
    new = sorted(
        n for n in set(sys.modules) - before if n.startswith("airflow_provider_grokvideo.")
    )
    print("PLUGIN", module.GrokVideosPlugin.name, new)
    """
)


def test_a_task_start_loads_our_plugin_without_fastapi_starlette_or_jinja2() -> None:
    result = subprocess.run(
        [sys.executable, "-c", TASK_START_WITH_THE_WEB_STACK_REFUSED],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PLUGIN"))
    # The plugin module alone: not the app, the page, the storage check or the catalog.
    assert line == (
        "PLUGIN grokvideo "
        "['airflow_provider_grokvideo.plugins', 'airflow_provider_grokvideo.plugins.grok_videos']"
    ), line
    assert "imported at a task start" not in result.stderr


def test_the_api_server_still_gets_the_pages_app() -> None:
    from fastapi import FastAPI

    from airflow_provider_grokvideo.plugins.grok_videos import GrokVideosPlugin

    [app] = GrokVideosPlugin.fastapi_apps
    assert isinstance(app["app"], FastAPI) and app["url_prefix"] == "/grokvideo"
    assert GrokVideosPlugin().fastapi_apps is GrokVideosPlugin.fastapi_apps  # built once
