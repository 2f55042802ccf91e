"""Local files as inputs (hooks/uploads.py): uploaded to xAI's Files and sent as file ids,
images to APIMart's uploads on its own host, refused with a clear message elsewhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.hooks import get_video_hook
from airflow_provider_grokvideo.hooks.uploads import is_local_input, upload_input
from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "look.png"
    path.write_bytes(PNG)
    return path


def uploads(emulator: Emulator) -> int:
    return int(emulator.app.files.uploads)


def test_what_counts_as_a_local_file(image: Path) -> None:
    assert is_local_input(str(image)) and is_local_input(image)
    assert is_local_input(f"file://{image}") and is_local_input("s3://conn@bucket/a.png")
    assert is_local_input(ObjectStoragePath(f"file://{image}"))
    for remote in ("https://a.example/a.png", "data:image/png;base64,AA", "xai-file:file_1", None):
        assert not is_local_input(remote)


def test_a_local_image_goes_to_xais_files_and_is_sent_by_id(
    emulator: Emulator, image: Path
) -> None:
    task = GrokVideoGenerateOperator(
        task_id="t",
        conn_id="grokvideo_xai_default",
        prompt="p",
        image_urls=str(image),
        keyframes=[{"image": str(image), "timestamp_s": 1}],
    )
    hook = get_video_hook("grokvideo_xai_default")
    sent = task._upstream_call(hook).call.json
    assert sent is not None and set(sent["image"]) == {"file_id"}
    assert sent["keyframes"][0]["image"] == sent["image"]  # the same file, uploaded once
    assert uploads(emulator) == 1
    generation_id = task.execute(context={})  # type: ignore[arg-type]
    assert emulator.job(generation_id) is not None and uploads(emulator) == 1


def test_a_stored_source_video_is_uploaded_not_inlined(emulator: Emulator, tmp_path: Path) -> None:
    hook = get_video_hook("grokvideo_xai_default")
    done = hook.get_video(hook.submit_video("p [emulator:seconds=0]", duration=3))
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(httpx.get(done.video_urls[0]).content)
    task = GrokVideoEditOperator(
        task_id="e",
        conn_id="grokvideo_xai_default",
        prompt="make it snow [emulator:seconds=0]",
        video_url=ObjectStoragePath(f"file://{clip}"),
    )
    sent = task._upstream_call(hook).call.json
    assert sent is not None and set(sent["video"]) == {"file_id"}
    generation_id = task.execute(context={})  # type: ignore[arg-type]
    assert hook.get_video(generation_id).duration == 3  # the emulator read the uploaded file


def test_images_go_to_apimart_uploads_on_its_own_host(
    emulator: Emulator, image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(emulator.airflow_connection("xcompute"))
    conn["extra"] = {"idempotent_submits": True}  # this host is APIMart's
    monkeypatch.setenv("AIRFLOW_CONN_APIMART", json.dumps(conn))
    url = upload_input(get_video_hook("apimart"), str(image), field="image_urls")
    assert url.startswith(emulator.url) and "/cdn/uploads/" in url
    # The white-label documents no uploads: refused, naming what it takes instead.
    task = GrokVideoGenerateOperator(
        task_id="t", conn_id="grokvideo_xcompute_default", prompt="p", image_urls=str(image)
    )
    with pytest.raises(
        AirflowFailException, match=r"image_urls=.*takes no upload of a local image"
    ):
        task.execute(context={})  # type: ignore[arg-type]


def test_mountsea_refuses_local_files_clearly(emulator: Emulator, image: Path) -> None:
    with pytest.raises(Exception, match="mountsea takes no upload of a local image"):
        upload_input(get_video_hook("grokvideo_mountsea_default"), str(image), field="image_urls")


def test_files_past_50_mb_are_refused_before_any_request(
    emulator: Emulator, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(50 * 1000 * 1000 + 1)  # sparse: costs no disk
    with pytest.raises(Exception, match="files of at most 50 MB"):
        upload_input(get_video_hook("grokvideo_xai_default"), str(big), field="image_urls")
    with pytest.raises(Exception, match="a readable file"):
        upload_input(
            get_video_hook("grokvideo_xai_default"), str(tmp_path / "none.png"), field="image_urls"
        )
    assert uploads(emulator) == 0


def test_the_api_key_is_sent_to_the_api_host_only(emulator: Emulator, image: Path) -> None:
    seen: list[Any] = []
    hook = get_video_hook("grokvideo_xai_default")
    client = hook.get_conn()
    client.event_hooks["request"].append(lambda request: seen.append(request))
    upload_input(hook, str(image), field="image_urls")
    (request,) = seen
    assert request.url.path.endswith("/v1/files") and request.headers["authorization"]
