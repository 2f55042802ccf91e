"""TCP connections as the emulator sees them (``emulator/connections.py``): each one counted, so
that a client's pooling shows; one dropped by a fault is closed without an answer, and the
client's next request opens a new one."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, Emulator


def test_connections_opened_counts_real_connections(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    with httpx.Client(headers=headers) as pooled:
        job = pooled.post(emu.base_url("xai") + "/v1/videos/generations", json={"prompt": "x"})
        for _ in range(20):
            pooled.get(emu.base_url("xai") + f"/v1/videos/{job.json()['request_id']}")
    assert emu.stats()["connections_opened"] == 1
    for _ in range(5):
        httpx.get(f"{emu.url}/_emulator/health")
    stats = emu.stats()
    assert stats["connections_opened"] == 6
    assert stats["upstreams"]["xai"]["status_reads"] == 20


def test_a_dropped_connection_is_closed_without_an_answer(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    with httpx.Client(headers=headers) as pooled:
        job = pooled.post(emu.base_url("xai") + "/v1/videos/generations", json={"prompt": "x"})
        status = emu.base_url("xai") + f"/v1/videos/{job.json()['request_id']}"
        emu.inject("drop", count=1, upstream="xai", endpoint="status")
        with pytest.raises(httpx.RemoteProtocolError):
            pooled.get(status)
        assert pooled.get(status).is_success  # the fault is spent: a new connection answers
    assert emu.stats()["connections_opened"] == 2
