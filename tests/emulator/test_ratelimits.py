"""Per-key, per-upstream rate limits (``rate_limits=``, ``--rate-limit``, the control plane)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY, Emulator
from airflow_provider_grokvideo.emulator.__main__ import build_parser
from airflow_provider_grokvideo.emulator.app import EmulatorApp
from airflow_provider_grokvideo.emulator.ratelimits import RateLimits
from emulator.command_line import running_emulator

UPSTREAMS = ["xcompute", "mountsea", "xai"]


def test_bucket_holds_one_second_and_refills_at_the_rate() -> None:
    limits = RateLimits({"xai": 2})
    key = b"Bearer k"
    assert limits.check("xai", key, 100.0) is None
    assert limits.check("xai", key, 100.0) is None  # two tokens: one second's worth
    wait = limits.check("xai", key, 100.0)
    assert wait == pytest.approx(0.5)
    assert limits.check("xai", key, 100.25) == pytest.approx(0.25)  # a refused one takes none
    assert limits.check("xai", key, 100.5) is None
    assert limits.check("xai", b"Bearer other", 100.5) is None  # per key
    assert limits.check("xcompute", key, 100.5) is None  # per upstream: no limit there
    assert RateLimits.retry_after(0.25) == 1.0
    assert RateLimits.retry_after(1.2) == 2.0


def test_a_budget_under_one_per_second_holds_one_request() -> None:
    limits = RateLimits({"mountsea": 0.5})
    assert limits.check("mountsea", None, 0.0) is None
    assert limits.check("mountsea", None, 1.0) == pytest.approx(1.0)
    assert limits.check("mountsea", None, 2.0) is None


@pytest.mark.parametrize(
    "bad", [{"nowhere": 1}, {"xai": 0}, {"xai": -1}, {"xai": "1"}, {"xai": True}, [1]]
)
def test_bad_limits_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        EmulatorApp(rate_limits=bad)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_beyond_the_limit_a_429_in_the_upstreams_shape(api: Any, upstream: str) -> None:
    api.emulator.set_rate_limits({upstream: 1})
    job_id = api.submit_id(upstream)
    refused = api.status(upstream, job_id)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    body = refused.json()
    if upstream == "xcompute":
        assert body["error"]["type"] == "rate_limit_error"
    elif upstream == "mountsea":
        assert body["statusCode"] == 429
    else:
        assert "rate limit" in body["error"]
    assert api.submit(upstream).status_code == 429
    time.sleep(1.05)
    assert api.status(upstream, job_id).status_code == 200
    stats = api.emulator.stats()["upstreams"][upstream]
    assert (stats["rate_limited_submit"], stats["rate_limited_status"]) == (1, 1)
    assert stats["submissions"] == 1  # a refused submit creates nothing
    assert stats["requests"] == 4
    other = next(u for u in UPSTREAMS if u != upstream)
    assert api.submit(other).status_code == 200  # other upstreams are not limited


def test_each_key_has_its_own_bucket() -> None:
    with Emulator(api_key=["key-a", "key-b"], rate_limits={"xai": 1}) as emu:
        url = emu.base_url("xai") + "/v1/videos/generations"
        body = {"prompt": "a dog"}

        def post(key: str) -> int:
            headers = {"Authorization": f"Bearer {key}"}
            return httpx.post(url, json=body, headers=headers).status_code

        assert [post("key-a"), post("key-b"), post("key-a"), post("key-b")] == [200, 200, 429, 429]
        assert emu.stats()["rate_limits"] == {"xai": 1.0}


def test_control_plane_sets_and_reset_restores_the_limits_given_at_start() -> None:
    with Emulator(rate_limits={"xcompute": 10}) as emu:
        url = f"{emu.url}/_emulator/rate-limits"
        assert httpx.get(url).json() == {"rate_limits": {"xcompute": 10.0}}
        answer = httpx.put(url, json={"xai": 1, "xcompute": None})
        assert answer.status_code == 200
        assert answer.json() == {"rate_limits": {"xai": 1.0}}
        bad = httpx.put(url, json={"xai": 0})
        assert bad.status_code == 400 and "above 0" in bad.json()["error"]
        assert httpx.put(url, content=b"{").status_code == 400
        emu.reset()
        assert httpx.get(url).json() == {"rate_limits": {"xcompute": 10.0}}


def test_command_line_option() -> None:
    args = build_parser().parse_args(["--rate-limit", "xai=1", "--rate-limit", "xcompute=10"])
    assert dict(args.rate_limits) == {"xai": 1.0, "xcompute": 10.0}
    for bad in ("xai", "nowhere=1", "xai=0", "xai=fast"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--rate-limit", bad])


def test_command_line_emulator_enforces_it() -> None:
    with running_emulator("--log-level", "warning", "--rate-limit", "mountsea=1") as output:
        first = output.readline()
        url = first.split(" on ", 1)[1].split(" ", 1)[0]
        lines = [output.readline() for _ in range(3)]
        assert any("mountsea" in line and "1 requests/s per key" in line for line in lines)
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        codes = [
            httpx.get(f"{url}/mountsea/xai/tasks", params={"taskId": "x"}, headers=headers)
            for _ in range(2)
        ]
        assert [c.status_code for c in codes] == [404, 429]
        stats = httpx.get(f"{url}/_emulator/stats").json()
        assert stats["upstreams"]["mountsea"]["rate_limited_status"] == 1
        assert json.dumps(stats["rate_limits"]) == '{"mountsea": 1.0}'
