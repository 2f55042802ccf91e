"""One upstream's counters (``emulator/stats.py``): what each request adds, read back through
``GET /_emulator/stats`` over real HTTP."""

from __future__ import annotations

import httpx
from hook_support import submit

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.stats import UpstreamStats


def test_new_counters_are_zero_and_name_every_slot() -> None:
    counters = UpstreamStats().to_dict()
    assert list(counters) == list(UpstreamStats.__slots__)
    assert set(counters.values()) == {0}


def test_each_request_is_counted_where_it_belongs(emulator: Emulator) -> None:
    generation_id = submit("xai")
    base = emulator.base_url("xai")
    with httpx.Client(timeout=10) as client:
        key = {"Authorization": f"Bearer {emulator.api_key}"}
        assert client.get(f"{base}/v1/videos/{generation_id}", headers=key).status_code == 200
        assert client.get(f"{base}/v1/videos/no-such-job", headers=key).status_code == 404
        wrong = {"Authorization": "Bearer not-the-key"}
        # xAI answers a wrong key with 400 ("Incorrect API key provided"), as UPSTREAMS.md says.
        assert client.get(f"{base}/v1/videos/{generation_id}", headers=wrong).status_code == 400
    counted = emulator.stats()["upstreams"]["xai"]
    assert counted["submissions"] == counted["submit_requests"] == 1
    assert counted["status_reads"] >= 2  # ours; the known and the unknown job
    assert counted["not_found"] == 1 and counted["auth_failures"] == 1
    assert counted["requests"] >= 4
    assert emulator.stats()["upstreams"]["mountsea"]["requests"] == 0
