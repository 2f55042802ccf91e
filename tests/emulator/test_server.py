"""Starting the emulator (``emulator/server.py``): in a thread, with TLS, in process as an ASGI
app; its stats, reset and job inspection; the Airflow connection of an emulator elsewhere."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
from airflow.sdk import Connection

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, Emulator, create_app
from airflow_provider_grokvideo.emulator.connections import ConnectionDropped
from emulator.command_line import ENV


def test_package_import_is_light() -> None:
    code = (
        "import sys, airflow_provider_grokvideo.emulator as e; "
        "print(e.DEFAULT_API_KEY, 'uvicorn' in sys.modules, 'starlette' in sys.modules,"
        " any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [DEFAULT_API_KEY, "False", "False", "False"]


def test_emulator_is_independent_of_airflow_and_the_provider() -> None:
    code = (
        "import sys\n"
        "from airflow_provider_grokvideo.emulator import Emulator\n"
        "import airflow_provider_grokvideo.emulator.pytest_plugin\n"
        "with Emulator() as emu: emu.stats()\n"
        "bad = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')\n"
        "       or m.startswith(('airflow_provider_grokvideo.dialects',\n"
        "                        'airflow_provider_grokvideo.hooks'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_emulator_lifecycle_and_urls() -> None:
    emu = Emulator(job_seconds=0.1, api_key="secret")
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.url)
        assert emu.port > 0 and emu.running and emu.api_key == "secret"
        assert emu.base_url("mountsea") == f"{emu.url}/mountsea"
        with pytest.raises(ValueError):
            emu.base_url("openai")
        conn = Connection.from_json(emu.airflow_connection("xai"), conn_id="emu")
        assert (conn.conn_type, conn.host, conn.password) == (
            "grokvideo_xai",
            f"{emu.url}/xai",
            "secret",
        )
        assert httpx.get(f"{emu.url}/_emulator/health").json() == {"status": "ok"}
        index = httpx.get(emu.url + "/").json()
        assert index["upstreams"]["xai"] == f"{emu.url}/xai" and "drop" in index["faults"]
    finally:
        emu.stop()
    assert not emu.running
    emu.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{emu.port}/_emulator/health")


def test_stats_shape_reset_and_job_inspection(api: Any) -> None:
    job_id = api.submit_id("xcompute")
    api.status("xcompute", job_id)
    api.status("xcompute", job_id)
    stats = httpx.get(f"{api.emulator.url}/_emulator/stats").json()
    assert stats["upstreams"]["xcompute"]["submissions"] == 1
    assert stats["upstreams"]["xcompute"]["status_reads"] == 2
    assert stats["upstreams"]["mountsea"] == {k: 0 for k in stats["upstreams"]["mountsea"]}
    assert set(stats["jobs"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "expired",
    }
    assert sum(stats["jobs"].values()) == 1 and stats["jobs_evicted"] == 0
    assert stats["jobs_total"] == 1
    for key in ("connections_opened", "cdn_requests", "cdn_requests_with_authorization"):
        assert isinstance(stats[key], int)
    info = httpx.get(f"{api.emulator.url}/_emulator/jobs/{job_id}").json()
    assert info["upstream"] == "xcompute" and info["state"] in {"queued", "running", "succeeded"}
    assert httpx.get(f"{api.emulator.url}/_emulator/jobs/nope").status_code == 404
    assert httpx.post(f"{api.emulator.url}/_emulator/reset").json() == {"reset": True}
    after = api.emulator.stats()
    assert after["jobs_total"] == 0 and after["upstreams"]["xcompute"]["submissions"] == 0
    assert api.status("xcompute", job_id).status_code == 404
    assert httpx.get(f"{api.emulator.url}/_emulator/unknown").status_code == 404


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    yield str(cert_file), str(key_file), str(ca_file)


def test_tls(tls_files: tuple[str, str, str]) -> None:
    cert, key, ca = tls_files
    with Emulator(job_seconds=0.1, ssl_certfile=cert, ssl_keyfile=key) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        with httpx.Client(verify=ca, headers=headers) as client:
            response = client.post(
                emu.base_url("xai") + "/v1/videos/generations", json={"prompt": "x"}
            )
            request_id = response.json()["request_id"]
            time.sleep(0.15)
            done = client.get(emu.base_url("xai") + f"/v1/videos/{request_id}").json()
            assert done["video"]["url"].startswith("https://")
            video = client.get(done["video"]["url"])
            assert video.content[4:8] == b"ftyp"
            emu.inject("drop")
            with pytest.raises(httpx.TransportError):
                client.get(emu.base_url("xai") + f"/v1/videos/{request_id}")
            assert emu.stats()["connections_opened"] == 1  # one pooled TLS connection
            assert client.get(emu.base_url("xai") + f"/v1/videos/{request_id}").is_success
        assert emu.stats()["connections_opened"] == 2  # a new one after the drop


async def test_in_process_asgi_app() -> None:
    app = create_app(job_seconds=0)
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emu", headers=headers) as c:
        submitted = await c.post("/xai/v1/videos/generations", json={"prompt": "x"})
        request_id = submitted.json()["request_id"]
        done = (await c.get(f"/xai/v1/videos/{request_id}")).json()
        assert done["status"] == "done"
        assert done["video"]["url"] == f"http://emu/cdn/videos/{request_id}.mp4"
        video = await c.get(done["video"]["url"])
        assert video.content[4:8] == b"ftyp"
        app.inject("drop")
        with pytest.raises(ConnectionDropped):
            await c.get(f"/xai/v1/videos/{request_id}")
    assert app.stats()["upstreams"]["xai"]["submissions"] == 1


def test_airflow_connection_of_an_emulator_in_another_process() -> None:
    from airflow_provider_grokvideo.emulator.server import airflow_connection

    conn = Connection.from_json(
        airflow_connection("http://127.0.0.1:8123/", "mountsea"), conn_id="emu"
    )
    assert (conn.conn_type, conn.host, conn.password) == (
        "grokvideo_mountsea",
        "http://127.0.0.1:8123/mountsea",
        "emulator-key",
    )
    with pytest.raises(ValueError, match="upstream must be one of"):
        airflow_connection("http://127.0.0.1:8123", "openai")
