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

    new = set(sys.modules) - before
    heavy = sorted(
        name for name in new
        if name.split(".")[0] in ("httpx", "httpx_aiohttp", "aiohttp", "tenacity", "requests")
        or name.startswith("airflow_provider_grokvideo.hooks")
        or name.startswith("airflow_provider_grokvideo.triggers")
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
