"""Uploads of inputs, over raw HTTP (``emulator/files.py``): xAI's Files API answers a file id
(with its expiry when asked), APIMart's image uploads a URL valid 72 hours; what
is no multipart upload, or not authorized, is refused in the upstream's own shape."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.emulator.cdn import sample_bytes
from airflow_provider_grokvideo.emulator.files import APIMART_URL_SECONDS
from emulator.checks import AUTH


def upload(emu: Emulator, upstream: str, path: str, **form: str) -> httpx.Response:
    files = {"file": ("clip.mp4", sample_bytes("sample.mp4"), "video/mp4")}
    return httpx.post(emu.base_url(upstream) + path, files=files, data=form, headers=AUTH)


def test_an_xai_file_is_kept_by_id_with_what_it_is(emu: Emulator) -> None:
    answer = upload(emu, "xai", "/v1/files")
    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "file" and body["filename"] == "clip.mp4"
    assert body["bytes"] == len(sample_bytes("sample.mp4")) and body["expires_at"] is None
    stored = emu.app.files.get(body["id"])
    assert stored is not None and stored.data == sample_bytes("sample.mp4")
    assert stored.seconds() is not None and stored.seconds() > 0  # an MP4's header is read
    assert emu.app.files.get("file_unknown") is None


def test_an_xai_file_expires_when_asked(emu: Emulator) -> None:
    body = upload(emu, "xai", "/v1/files", expires_after="3600").json()
    assert body["expires_at"] == body["created_at"] + 3600
    refused = upload(emu, "xai", "/v1/files", expires_after="60")
    assert refused.status_code == 400 and "expires_after must be 3600..2592000" in refused.text


def test_an_apimart_image_upload_answers_a_url_valid_72_hours(emu: Emulator) -> None:
    answer = upload(emu, "xcompute", "/v1/uploads/images")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["url"].startswith(emu.url + "/cdn/uploads/file_")
    assert data["expires_at"] - APIMART_URL_SECONDS == pytest.approx(emu.app.clock(), abs=5)
    stored = emu.app.files.get(data["url"].rsplit("/", 1)[1])  # named by the URL, kept here
    assert stored is not None and stored.data == sample_bytes("sample.mp4")


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"headers": {}, "files": {"file": ("a", b"x")}}, 400, "Incorrect API key"),
        ({"headers": AUTH, "data": {"purpose": "x"}}, 400, "multipart"),
        ({"headers": AUTH, "data": {"file": "not a file"}}, 400, "file is required"),
    ],
    ids=["no key", "no form", "no file"],
)
def test_what_is_no_authorized_upload_is_refused(
    emu: Emulator, kwargs: dict, status: int, words: str
) -> None:
    answer = httpx.post(emu.base_url("xai") + "/v1/files", **kwargs)
    assert answer.status_code == status and words in answer.text
    assert emu.app.files.uploads == 0


def test_files_are_only_posted(emu: Emulator) -> None:
    answer = httpx.get(emu.base_url("xai") + "/v1/files", headers=AUTH)
    assert answer.status_code == 400 and "GET is not allowed here" in answer.text
