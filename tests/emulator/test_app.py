"""What every upstream does alike behind the emulator's router (``emulator/app.py``): unknown
status words, the seconds marker, unknown ids answered 404 in the upstream's shape, ids that
belong to their upstream.  Each upstream's own flow: ``test_<upstream>.py``."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_unknown_status_word_before_finishing(api: Any, upstream: str) -> None:
    prompt = "x [emulator:unknown-status] [emulator:seconds=0.6]"
    base = {
        "xcompute": {"model": "grok-imagine-1.0-video-apimart", "prompt": prompt},
        "mountsea": {"model": "grok-imagine-video", "prompt": prompt},
        "xai": {"prompt": prompt},
    }[upstream]
    job_id = api.submit_id(upstream, base)
    words = [api.status_of(upstream, b) for b in api.poll(upstream, job_id, interval=0.02)]
    assert "rendering" in words
    assert words[-1] in {"completed", "done"}


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_seconds_marker_sets_job_duration(api: Any, upstream: str) -> None:
    job_id = api.submit_id(upstream, prompt="quick [emulator:seconds=0]")
    assert api.status_of(upstream, api.status(upstream, job_id).json()) in {"completed", "done"}
    slow = api.submit_id(upstream, prompt="slow [emulator:seconds=60]")
    assert api.status_of(upstream, api.status(upstream, slow).json()) not in {"completed", "done"}
    assert api.emulator.job(slow)["seconds"] == 60


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_unknown_job_id_is_404_in_upstream_shape(api: Any, upstream: str) -> None:
    response = api.status(upstream, "no-such-job")
    assert response.status_code == 404
    body = response.json()
    if upstream == "xcompute":
        assert body["error"]["code"] == 404 and body["error"]["message"]
    elif upstream == "mountsea":
        assert body["statusCode"] == 404 and body["error"] == "Not Found"
    else:
        assert body["code"] and "no-such-job" in body["error"]


def test_job_ids_belong_to_their_upstream(api: Any) -> None:
    xai_id = api.submit_id("xai")
    assert api.status("mountsea", xai_id).status_code == 404
    assert api.status("xai", xai_id).status_code == 200
