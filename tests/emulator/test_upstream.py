"""What every upstream's API shares (``emulator/upstream.py``): the key refused in the upstream's
own shape, one or several keys accepted, unknown paths answered 404.  Each upstream's own
validation rules: ``test_<upstream>.py``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from emulator.checks import MS, XAI, XC

WRONG_KEY = "sk-wrong-key-0123456789"


def call(emu: Emulator, upstream: str, endpoint: str, headers: dict[str, str]) -> httpx.Response:
    base = emu.base_url(upstream)
    if endpoint == "submit":
        path = {"xcompute": "/v1/videos/generations", "mountsea": "/xai/videos"}
        body = {"xcompute": XC, "mountsea": MS, "xai": XAI}[upstream]
        url = base + path.get(upstream, "/v1/videos/generations")
        return httpx.post(url, json=body, headers=headers)
    path = {"xcompute": "/v1/tasks/x", "mountsea": "/xai/tasks?taskId=x", "xai": "/v1/videos/x"}
    return httpx.get(base + path[upstream], headers=headers)


@pytest.mark.parametrize("endpoint", ["submit", "status"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {WRONG_KEY}"},
        {"Authorization": "Basic ZW11bGF0b3Ita2V5Og=="},
        {"Authorization": "emulator-key"},
    ],
    ids=["missing", "wrong", "basic", "no-scheme"],
)
@pytest.mark.parametrize("upstream", ["xcompute", "mountsea", "xai"])
def test_auth_failures(
    emu: Emulator, upstream: str, endpoint: str, headers: dict[str, str]
) -> None:
    response = call(emu, upstream, endpoint, headers)
    body = response.json()
    if upstream == "xcompute":
        assert response.status_code == 401
        assert body["error"]["code"] == 401
        assert body["error"]["type"] == "authentication_error" and body["error"]["message"]
    elif upstream == "mountsea":
        assert response.status_code == 401
        assert body == {"statusCode": 401, "message": "Unauthorized"}
    else:
        assert response.status_code == 400
        assert body["code"] == "Client specified an invalid argument"
        assert "Incorrect API key provided" in body["error"]
    assert WRONG_KEY not in response.text and "emulator-key" not in response.text
    assert emu.stats()["upstreams"][upstream]["auth_failures"] == 1
    assert emu.stats()["upstreams"][upstream]["submissions"] == 0


def test_bearer_scheme_is_case_insensitive(emu: Emulator) -> None:
    response = call(emu, "xai", "submit", {"Authorization": "bearer emulator-key"})
    assert response.status_code == 200


def test_several_keys_accepted() -> None:
    with Emulator(api_key=["k1", "k2"], job_seconds=0.1) as emu:
        for key in ("k1", "k2"):
            response = call(emu, "mountsea", "submit", {"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
        assert call(emu, "mountsea", "submit", {"Authorization": "Bearer emulator-key"}).is_error


@pytest.mark.parametrize("upstream", ["xcompute", "xai"])
def test_unknown_paths_are_404(api: Any, upstream: str) -> None:
    response = api.client.get(api.url(upstream, "/v2/nothing"))
    assert response.status_code == 404
    assert response.json()
