"""The prepared submit that the generate, edit and extend operators hand to the shared steps."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_grokvideo.dialects.base import HttpCall
from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


def test_holds_the_call_and_defers_the_estimate():
    asked: list[str] = []
    upstream = UpstreamCall(
        call=HttpCall("POST", "/v1/videos/edits", json={"prompt": "p"}),
        estimate=lambda: asked.append("estimate") or None,  # type: ignore[func-returns-value]
    )
    assert asked == [] and upstream.model is None
    assert upstream.estimate() is None and asked == ["estimate"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        upstream.model = "m"  # type: ignore[misc]
