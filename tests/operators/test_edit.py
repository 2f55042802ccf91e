"""GrokVideoEditOperator against the emulator: the source from a wait's XCom, a URL or a stored
copy; refusals before any request; the generate operator's durable submit and cost cap."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from repo_paths import SAMPLE_MP4
from state_store_support import DictStore

from airflow_provider_grokvideo.emulator import Emulator
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.operators.edit import GrokVideoEditOperator
from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator


def edit(upstream: str = "xai", **kwargs: Any) -> GrokVideoEditOperator:
    arguments: dict[str, Any] = {
        "task_id": "edit",
        "conn_id": f"grokvideo_{upstream}_default",
        "prompt": "make it autumn",
        "video_url": "https://v.example/approved.mp4",
    }
    arguments.update(kwargs)
    return GrokVideoEditOperator(**arguments)


def finished_generation(emulator: Emulator, duration: int = 8) -> dict[str, Any]:
    from airflow_provider_grokvideo.hooks import get_video_hook

    hook = get_video_hook("grokvideo_xai_default")
    generation_id = hook.submit_video("approved [emulator:seconds=0.2]", duration=duration)
    time.sleep(0.3)
    return hook.get_video(generation_id).to_dict()


def job_body(emulator: Emulator, generation_id: str) -> dict[str, Any]:
    job = emulator.job(generation_id)
    assert job is not None
    return job


def test_is_a_generate_operator_declared_templated_and_mappable() -> None:
    assert issubclass(GrokVideoEditOperator, GrokVideoGenerateOperator)
    assert {"conn_id", "prompt", "video_url", "source_duration", "model"} <= set(
        GrokVideoEditOperator.template_fields
    )
    with pytest.raises(TypeError, match="takes no resolution, duration"):
        GrokVideoEditOperator(
            task_id="e", conn_id="c", prompt="p", video_url="u", duration=5, resolution="720p"
        )


def test_edits_the_video_of_a_finished_generation(emulator: Emulator) -> None:
    source = finished_generation(emulator)
    generation_id = edit(video_url=source).execute(context={})
    assert job_body(emulator, generation_id)["video_duration"] == 8  # the source's length


def test_edits_a_rendered_template_of_the_generation(emulator: Emulator) -> None:
    source = finished_generation(emulator)
    generation_id = edit(video_url=repr(source)).execute(context={})  # what Jinja renders
    assert job_body(emulator, generation_id)["video_duration"] == 8


def test_a_stored_copy_is_sent_as_a_data_uri(emulator: Emulator, tmp_path: Path) -> None:
    copy = tmp_path / "approved.mp4"
    copy.write_bytes(SAMPLE_MP4.read_bytes())
    for video_url in (copy.as_uri(), [copy.as_uri(), (tmp_path / "thumb.jpg").as_uri()]):
        generation_id = edit(video_url=video_url).execute(context={})
        assert emulator.job(generation_id) is not None
    assert emulator.stats()["upstreams"]["xai"]["submissions"] == 2


@pytest.mark.parametrize(
    ("video_url", "words"),
    [
        ({"generation_id": "g1", "status": "failed", "video_urls": []}, "a finished generation"),
        ("file:///nowhere/at/all.mp4", "reading it failed"),
        ([], "a video URL or a stored copy"),
        ("ftp://v.example/a.mp4", "reading it failed"),
    ],
)
def test_what_is_not_a_video_is_refused_before_any_request(
    emulator: Emulator, video_url: Any, words: str
) -> None:
    with pytest.raises(AirflowFailException, match=words) as caught:
        edit(video_url=video_url).execute(context={})
    assert isinstance(caught.value.__cause__, InvalidVideoRequest)
    assert emulator.stats()["requests"] == 0


def test_a_stored_file_that_is_not_an_mp4_is_refused(emulator: Emulator, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(AirflowFailException, match="not one"):
        edit(video_url=text.as_uri()).execute(context={})
    assert emulator.stats()["requests"] == 0


def test_a_source_too_long_to_edit_is_refused_before_any_request(emulator: Emulator) -> None:
    source = finished_generation(emulator, duration=10)
    requests = emulator.stats()["requests"]
    with pytest.raises(AirflowFailException, match=r"at most 8\.7 s"):
        edit(video_url=source).execute(context={})
    assert emulator.stats()["requests"] == requests


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
def test_the_resellers_refuse_naming_xai(emulator: Emulator, upstream: str, tmp_path: Path) -> None:
    # Refused before the stored copy is even read.
    missing = (tmp_path / "never-read.mp4").as_uri()
    with pytest.raises(AirflowFailException, match="video edits are offered by xai"):
        edit(upstream, video_url=missing).execute(context={})
    assert emulator.stats()["requests"] == 0


def test_the_cap_counts_an_unknown_source_at_xais_8_7_seconds(emulator: Emulator) -> None:
    # 8.7 s at the dearest resolution (the output follows the source's): $0.609 > $0.50.
    with pytest.raises(AirflowFailException, match=r"exceeds max_cost_usd=\$0\.50"):
        edit(max_cost_usd=0.5).execute(context={})
    assert emulator.stats()["requests"] == 0
    # A known 5 s source: $0.35, under the cap.
    generation_id = edit(max_cost_usd=0.5, source_duration="5").execute(context={})
    assert emulator.job(generation_id) is not None


def test_a_retry_reattaches_instead_of_paying_twice(emulator: Emulator) -> None:
    store = DictStore()
    first = edit().execute(context={"task_state_store": store})
    again = edit().execute(context={"task_state_store": store})
    assert again == first
    assert emulator.stats()["upstreams"]["xai"]["submissions"] == 1
