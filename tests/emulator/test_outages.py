"""Outages: an upstream down as a whole until told otherwise, over real sockets.

``"refuse"`` needs the upstream on a port of its own: the emulator here serves every upstream
on one (besides the shared port); the session's ``fast_emulator`` has none.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import UPSTREAMS, Emulator
from airflow_provider_grokvideo.emulator.__main__ import build_parser
from emulator.checks import AUTH, refused
from emulator.command_line import running_emulator
from emulator.conftest import Api

#: What each upstream answers while down with each kind: (status, a fragment of the body).
ANSWERS: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("xcompute", "401"): (401, {"error": {"code": 401, "type": "authentication_error"}}),
    ("xcompute", "402"): (402, {"error": {"code": 402, "type": "payment_required"}}),
    ("xcompute", "credits"): (402, {"error": {"code": 402, "type": "payment_required"}}),
    ("mountsea", "401"): (401, {"statusCode": 401, "message": "Unauthorized"}),
    ("mountsea", "402"): (402, {"statusCode": 402, "error": "Payment Required"}),
    ("mountsea", "credits"): (402, {"statusCode": 402, "error": "Payment Required"}),
    ("xai", "401"): (400, {"code": "Client specified an invalid argument"}),
    ("xai", "credits"): (429, {"code": "Some resource has been exhausted"}),
}


def contains(body: Any, fragment: dict[str, Any]) -> bool:
    return all(
        contains(body.get(k), v) if isinstance(v, dict) else body.get(k) == v
        for k, v in fragment.items()
    )


# --- the answers of a down upstream -------------------------------------------------------------


@pytest.mark.parametrize(("upstream", "kind"), list(ANSWERS), ids="-".join)
def test_a_down_upstream_answers_its_own_error_to_every_request(api: Api, upstream, kind):
    before = api.submit_id(upstream)
    assert api.emulator.set_outage(upstream, kind) == {upstream: kind}
    status, fragment = ANSWERS[(upstream, kind)]
    submit = api.submit(upstream)
    read = api.status(upstream, before)
    for response in (submit, read):
        assert response.status_code == status, response.text
        assert contains(response.json(), fragment), response.text
        assert "retry-after" not in response.headers  # waiting does not bring money back
    if (upstream, kind) == ("xai", "401"):
        assert "Incorrect API key provided" in submit.json()["error"]
    if kind == "credits" and upstream == "xai":
        assert "credits" in submit.json()["error"]
    if kind in ("402", "credits") and upstream != "xai":
        assert "balance" in submit.text or "credits" in submit.text
    stats = api.emulator.stats()
    counts = stats["upstreams"][upstream]
    assert (counts["outage_refused"], counts["submissions"]) == (2, 1)
    assert stats["outages"] == {upstream: kind}
    others = [name for name in UPSTREAMS if name != upstream]
    for other in others:  # the others are up
        assert api.submit(other).status_code == 200


def test_xai_never_answers_402(emu: Emulator):
    with pytest.raises(ValueError, match=r'xai never answers 402.*use "credits"'):
        emu.set_outage("xai", "402")
    assert emu.stats()["outages"] == {}


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_the_outage_ends_with_nothing_lost(api: Api, upstream):
    job_id = api.submit_id(upstream)
    api.emulator.set_outage(upstream, "401")
    assert api.submit(upstream).status_code in (400, 401)
    assert api.emulator.set_outage(upstream, None) == {}
    assert api.poll(upstream, job_id)[-1]  # the job made before the outage is still there
    assert api.submit(upstream).status_code == 200
    assert api.emulator.stats()["upstreams"][upstream]["submissions"] == 2


def test_bad_outages_are_refused_whole(emu: Emulator):
    emu.set_outage("mountsea", "402")
    with pytest.raises(ValueError, match="unknown upstream 'nope'"):
        emu.set_outages({"xai": "401", "nope": "401"})
    with pytest.raises(ValueError, match="must be one of refuse, 401, 402, credits or null"):
        emu.set_outage("xcompute", "500")
    assert emu.stats()["outages"] == {"mountsea": "402"}  # nothing of the refused ones applied


def test_reset_ends_every_outage(api_ports: Api):
    emu = api_ports.emulator
    emu.set_outages({"xcompute": "402", "xai": "credits", "mountsea": "refuse"})
    emu.reset()
    assert emu.stats()["outages"] == {}
    for upstream in UPSTREAMS:
        assert api_ports.submit(upstream).status_code == 200


# --- the HTTP control ----------------------------------------------------------------------


def test_http_control(api_ports: Api):
    emu = api_ports.emulator
    control = f"{emu.url}/_emulator/outages"
    assert httpx.get(control).json() == {"outages": {}}
    answer = httpx.put(control, json={"xai": "refuse", "mountsea": "402", "xcompute": None})
    assert answer.status_code == 200
    assert answer.json() == {"outages": {"xai": "refuse", "mountsea": "402"}}
    assert refused(emu.base_url("xai") + "/")
    assert api_ports.submit("mountsea").status_code == 402
    for body, error in [
        ({"xai": "402"}, "xai never answers 402"),
        ({"nope": None}, "unknown upstream"),
        ({"xcompute": "down"}, "must be one of"),
        (["xai"], "must be an object"),
    ]:
        response = httpx.put(control, json=body)
        assert response.status_code == 400 and error in response.json()["error"], response.text
    bad_json = httpx.put(control, content=b"{", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert httpx.put(control, json={"xai": None, "mountsea": None}).json() == {"outages": {}}
    assert api_ports.submit("xai").status_code == 200
    assert "outages" in httpx.get(f"{emu.url}/_emulator").json()["control"]


def test_http_control_refuse_without_own_port(emu: Emulator):
    response = httpx.put(f"{emu.url}/_emulator/outages", json={"xcompute": "refuse"})
    assert response.status_code == 400
    assert "start the emulator with it on its own port" in response.json()["error"]


# --- the command line ------------------------------------------------------------------------


def test_cli_serves_an_upstream_on_its_own_port_and_refuses_it():
    options = {o for a in build_parser()._actions for o in a.option_strings}
    assert "--upstream-port" in options
    with running_emulator("--upstream-port", "xai", "--log-level", "warning") as output:
        lines = [output.readline() for _ in range(5)]  # banner, 3 upstreams, control
        url = re.search(r"listening on (http://[\d.:]+)", lines[0]).group(1)  # type: ignore[union-attr]
        xai = re.search(r"xai\s+(http://[\d.:]+/xai)", "".join(lines)).group(1)  # type: ignore[union-attr]
        assert not xai.startswith(url + "/")
        for _ in range(100):
            try:
                assert httpx.get(f"{url}/_emulator/health").status_code == 200
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        submit = httpx.post(f"{xai}/v1/videos/generations", json={"prompt": "x"}, headers=AUTH)
        assert submit.status_code == 200
        httpx.put(f"{url}/_emulator/outages", json={"xai": "refuse"}).raise_for_status()
        assert refused(f"{xai}/v1/videos/nope")
        httpx.put(f"{url}/_emulator/outages", json={"xai": None}).raise_for_status()
        assert httpx.get(f"{xai}/v1/videos/nope", headers=AUTH).status_code == 404
