"""The emulator's control plane (``emulator/control.py``): every ``/_emulator`` route over real
HTTP, what it changes and how it refuses a bad body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hook_support import submit

from airflow_provider_grokvideo.emulator import Emulator


@pytest.fixture
def control(emulator: Emulator) -> Any:
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield client


def test_the_index_names_each_upstream_and_route(emulator: Emulator, control: Any) -> None:
    for where in (control.get("/_emulator"), httpx.get(f"{emulator.url}/", timeout=10)):
        index = where.json()
        assert index["emulator"] == "grokvideo"
        assert index["upstreams"]["xai"] == f"{emulator.url}/xai"
        assert index["control"]["hold"] == "POST /_emulator/hold"
        assert "503" in index["faults"]
    assert control.get("/_emulator/health").json() == {"status": "ok"}
    assert control.get("/_emulator/no-such-route").status_code == 404


def test_faults_are_added_listed_spent_and_cleared(emulator: Emulator, control: Any) -> None:
    added = control.post("/_emulator/faults", json={"fault": "503", "count": 2, "upstream": "xai"})
    assert added.status_code == 201 and added.json()["added"]["count"] == 2
    assert control.get("/_emulator/faults").json()["faults"] == [added.json()["added"]]
    control.post("/_emulator/faults", json={"fault": "429", "retry_after": 3})
    assert control.delete("/_emulator/faults").json() == {"faults": []}
    assert control.get("/_emulator/faults").json() == {"faults": []}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "body must be JSON"),
        (b"[]", "an object with a 'fault'"),
        (b'{"fault": "503", "colour": "red"}', "unknown fields: colour"),
        (b'{"fault": "the-moon"}', "the-moon"),
    ],
)
def test_a_bad_fault_is_refused_with_its_reason(control: Any, body: bytes, says: str) -> None:
    refused = control.post(
        "/_emulator/faults", content=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400 and says in refused.json()["error"]
    assert control.get("/_emulator/faults").json() == {"faults": []}


def test_rate_limits_outages_and_pending_202_are_set_and_read(control: Any) -> None:
    assert control.put("/_emulator/rate-limits", json={"xai": 2}).json() == {
        "rate_limits": {"xai": 2}
    }
    assert control.get("/_emulator/rate-limits").json() == {"rate_limits": {"xai": 2}}
    assert control.put("/_emulator/rate-limits", content=b"{").status_code == 400
    set_202 = control.put("/_emulator/xai-pending-202", json={"xai_pending_202": "empty"})
    assert set_202.json() == {"xai_pending_202": "empty"}
    assert (
        control.put("/_emulator/xai-pending-202", json={"xai_pending_202": "maybe"}).status_code
        == 400
    )
    assert control.get("/_emulator/xai-pending-202").json() == {"xai_pending_202": "empty"}
    outages = control.get("/_emulator/outages").json()
    assert set(outages) == {"outages"}


def test_batch_urls_can_be_made_short_lived(control: Any) -> None:
    assert control.put("/_emulator/xai-batch", json={"url_seconds": 120}).status_code == 200
    refused = control.put("/_emulator/xai-batch", json={"url_seconds": 120, "other": 1})
    assert refused.status_code == 400 and "url_seconds" in refused.json()["error"]


def test_a_held_job_waits_for_its_release_and_is_described(
    emulator: Emulator, control: Any
) -> None:
    assert control.post("/_emulator/hold").json() == {"held": True}
    generation_id = submit("xcompute")
    job = control.get(f"/_emulator/jobs/{generation_id}").json()
    assert job["state"] != "succeeded"
    assert control.post("/_emulator/release").json() == {"held": False, "jobs_released": 1}
    assert control.get("/_emulator/jobs/no-such-job").status_code == 404


def test_stats_count_and_reset_forgets(emulator: Emulator, control: Any) -> None:
    submit("xcompute")
    upstream = control.get("/_emulator/stats").json()["upstreams"]["xcompute"]
    assert upstream["submissions"] == 1
    assert control.post("/_emulator/reset").json() == {"reset": True}
    assert control.get("/_emulator/stats").json()["upstreams"]["xcompute"]["submissions"] == 0
