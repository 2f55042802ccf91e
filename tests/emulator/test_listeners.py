"""Upstreams on ports of their own (``emulator/listeners.py``), so that one can refuse TCP
connections (the ``refuse`` outage) while the others answer: refused until it ends, open
connections closed and counted, twice harmless."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from emulator.checks import AUTH, refused
from emulator.conftest import Api


def test_refuse_needs_a_port_of_its_own(emu: Emulator):
    with pytest.raises(
        ValueError, match=r"xai has no port of its own.*upstream_ports=\(\"xai\",\)"
    ):
        emu.set_outage("xai", "refuse")
    assert emu.stats()["outages"] == {}


def test_refuse_before_the_start_is_refused():
    emulator = Emulator(upstream_ports=("xai",))
    with pytest.raises(RuntimeError, match="not started"):
        emulator.set_outage("xai", "refuse")


def test_each_upstream_on_its_own_port(emu_ports: Emulator):
    origins = {emu_ports.upstream_url(name) for name in UPSTREAMS}
    assert len(origins) == 3 and emu_ports.url not in origins
    for name in UPSTREAMS:
        assert emu_ports.base_url(name) == f"{emu_ports.upstream_url(name)}/{name}"
        assert f'"host": "{emu_ports.base_url(name)}"' in emu_ports.airflow_connection(name)
    with pytest.raises(ValueError, match="upstream must be one of"):
        Emulator(upstream_ports=("nope",))
    with pytest.raises(ValueError, match="port of xai must be 0"):
        Emulator(upstream_ports={"xai": 70000})


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_refuse_refuses_connections_until_it_ends(api_ports: Api, upstream):
    emu = api_ports.emulator
    job_id = api_ports.submit_id(upstream)  # the test's pooled client keeps this connection
    port = int(emu.upstream_url(upstream).rsplit(":", 1)[1])
    emu.set_outage(upstream, "refuse")
    # A new connection is refused, and the kept-alive one was closed: both are a ConnectError.
    assert refused(emu.base_url(upstream) + "/")
    with pytest.raises(httpx.ConnectError):
        api_ports.submit(upstream)
    with pytest.raises(httpx.ConnectError):
        api_ports.status(upstream, job_id)
    for other in UPSTREAMS:  # the other upstreams' ports, and the shared port, still serve
        if other != upstream:
            assert api_ports.submit(other).status_code == 200
    assert emu.stats()["outages"] == {upstream: "refuse"}
    assert emu.set_outage(upstream, None) == {}
    assert int(emu.upstream_url(upstream).rsplit(":", 1)[1]) == port  # the same port, again
    assert api_ports.submit(upstream).status_code == 200


def test_refuse_closes_the_open_connections_and_counts_them(api_ports: Api):
    emu = api_ports.emulator
    with httpx.Client(headers=AUTH, timeout=5) as first, httpx.Client(headers=AUTH) as second:
        for client in (first, second):
            client.get(emu.base_url("xai") + "/v1/videos/nope")
        before = emu.stats()["connections_open"]
        emu.set_outage("xai", "refuse")
        stats = emu.stats()
        # The test's own pooled client had none open on xai's port yet.
        assert stats["upstreams"]["xai"]["outage_connections_closed"] == 2
        deadline = time.monotonic() + 5
        while emu.stats()["connections_open"] > before - 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.stats()["connections_open"] == before - 2
        with pytest.raises(httpx.ConnectError):
            first.get(emu.base_url("xai") + "/v1/videos/nope")


def test_refuse_twice_and_up_twice_are_harmless(api_ports: Api):
    emu = api_ports.emulator
    for _ in range(2):
        emu.set_outage("mountsea", "refuse")
    assert refused(emu.base_url("mountsea") + "/")
    for _ in range(2):
        emu.set_outage("mountsea", None)
    assert api_ports.submit("mountsea").status_code == 200
    emu.set_outage("mountsea", "refuse")
    emu.set_outage("mountsea", "402")  # from refused to answered: listening again
    assert api_ports.submit("mountsea").status_code == 402
