"""What the emulator's tests send and assert over raw HTTP, shared by the files of each upstream:
the smallest valid body of each, a body with one field changed or left out, and the checks of
a downloaded video, a timestamp and a progress series."""

from __future__ import annotations

import re
from typing import Any

import httpx

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY

#: The emulator's accepted key, as a request sends it.
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
#: The smallest valid submit body of each upstream.
XC = {"model": "grok-imagine-1.0-video-apimart", "prompt": "a dog"}
MS = {"model": "grok-imagine-video", "prompt": "a cat"}
XAI = {"prompt": "a lighthouse"}

#: ``body_with``'s value for "leave the field out".
MISSING = object()


def body_with(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    body = dict(base)
    if value is MISSING:
        body.pop(field, None)
    else:
        body[field] = value
    return body


ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def assert_mp4(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp"
    assert int(response.headers["content-length"]) == len(response.content)


def assert_progress_rises(values: list[int]) -> None:
    assert values == sorted(values)
    assert all(0 <= v <= 100 for v in values)


def refused(url: str) -> bool:
    """Whether a fresh connect to ``url`` fails (httpx's ConnectError)."""
    try:
        httpx.get(url, timeout=5)
    except httpx.ConnectError:
        return True
    return False
