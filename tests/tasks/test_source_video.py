"""The source of an edit or extension read from what earlier tasks hand over."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from repo_paths import SAMPLE_MP4

from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.models import VideoGeneration
from airflow_provider_grokvideo.tasks import source_video
from airflow_provider_grokvideo.tasks.source_video import read_source

DONE = VideoGeneration(
    "g1", "succeeded", video_urls=["https://vidgen.x.ai/g1.mp4"], duration=10
).to_dict()


@pytest.mark.parametrize("value", [DONE, repr(DONE), __import__("json").dumps(DONE)])
def test_a_finished_generation_gives_its_url_and_length(value):
    assert read_source(value, None, upstream="xai") == ("https://vidgen.x.ai/g1.mp4", 10)


def test_a_given_source_duration_wins():
    assert read_source(DONE, "6", upstream="xai") == ("https://vidgen.x.ai/g1.mp4", "6")


@pytest.mark.parametrize(
    "url", ["https://cdn.example/a.mp4", "http://cdn.example/a.mp4", "data:video/mp4;base64,AAAA"]
)
def test_urls_and_data_uris_are_sent_as_they_are(url):
    assert read_source(f"  {url} ", None, upstream="xai") == (url, None)


def test_a_stored_copy_becomes_a_data_uri(tmp_path: Path):
    copy = tmp_path / "v.mp4"
    copy.write_bytes(SAMPLE_MP4.read_bytes())
    expected = "data:video/mp4;base64," + base64.b64encode(SAMPLE_MP4.read_bytes()).decode()
    assert read_source(copy.as_uri(), None, upstream="xai") == (expected, None)
    # The download task's XCom: its URIs, videos first, the thumbnail after.
    listed = [copy.as_uri(), (tmp_path / "v-thumbnail.jpg").as_uri()]
    assert read_source(listed, 8, upstream="xai") == (expected, 8)
    assert (
        read_source([(tmp_path / "t.jpg").as_uri(), copy.as_uri()], None, upstream="xai")[0]
        == expected
    )


def test_a_stored_copy_too_large_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(source_video, "MAX_STORED_BYTES", 100)
    copy = tmp_path / "big.mp4"
    copy.write_bytes(SAMPLE_MP4.read_bytes())
    with pytest.raises(InvalidVideoRequest, match="public http"):
        read_source(copy.as_uri(), None, upstream="xai")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({**DONE, "status": "failed"}, "a finished generation"),
        ({**DONE, "video_urls": []}, "a finished generation"),
        (None, "a video URL"),
        ("", "a video URL"),
        (3, "a video URL"),
        ([], "a video URL or a stored copy"),
        ("/no/such/file.mp4", "reading it failed"),
    ],
)
def test_what_is_not_a_video_is_refused(value, words):
    with pytest.raises(InvalidVideoRequest, match=words) as info:
        read_source(value, None, upstream="xai")
    assert info.value.field == "video_url"
