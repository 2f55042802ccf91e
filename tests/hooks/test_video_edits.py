"""Edits and extensions through the hooks (``hooks/video_edits.py``), reference images and
1080p, over real sockets against the emulator; every refusal before any request; the upstreams
that offer none say who does."""

from __future__ import annotations

import base64
from decimal import Decimal

import httpx
import pytest
from hook_support import make_hook, wait_until_done
from repo_paths import SAMPLE_MP4

from airflow_provider_grokvideo.emulator import DEFAULT_API_KEY
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UpstreamHTTPError

MP4_DATA_URI = "data:video/mp4;base64," + base64.b64encode(SAMPLE_MP4.read_bytes()).decode()
PNG_DATA_URI = "data:image/png;base64,iVBORw0KGgo="


def requests(emulator, upstream: str = "xai") -> int:
    return emulator.stats()["upstreams"][upstream]["requests"]


# -- edits and extensions, chained ------------------------------------------------------------


def test_generate_extend_extend_is_a_30_second_video_billed_by_the_added_seconds(
    grokvideo_emulator,
):
    hook = make_hook(grokvideo_emulator)
    clip = wait_until_done(
        hook, hook.submit_video("a surfer at dawn [emulator:seconds=0.3]", duration=10)
    )
    assert clip.status == "succeeded" and clip.duration == 10
    source = clip
    for length in (20, 30):
        generation_id = hook.submit_video_extension(
            "the wave breaks [emulator:seconds=0.3]",
            video_url=source.video_urls[0],
            duration=10,
            source_duration=source.duration,
        )
        source = wait_until_done(hook, generation_id)
        assert source.status == "succeeded" and source.video_urls
        assert source.duration == length  # the source plus the added seconds
        # 10 s added, billed at xAI's 480p price: $0.50, read from usage.cost_in_usd_ticks.
        assert (source.cost_usd, source.cost_source) == (Decimal("0.5"), "billed")
    assert grokvideo_emulator.stats()["upstreams"]["xai"]["submissions"] == 3


def test_an_edit_keeps_its_sources_length(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    approved = wait_until_done(
        hook, hook.submit_video("a bottle [emulator:seconds=0.3]", duration=8)
    )
    edited = wait_until_done(
        hook,
        hook.submit_video_edit(
            "make it blue [emulator:seconds=0.3]", video_url=approved.video_urls[0]
        ),
    )
    assert edited.status == "succeeded" and edited.duration == 8
    assert edited.cost_usd == Decimal("0.4")  # 8 s at $0.05/s
    body = grokvideo_emulator.job(edited.generation_id)
    assert body["video_duration"] == 8


def test_an_edit_of_a_data_uri_is_accepted(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    edited = wait_until_done(hook, hook.submit_video_edit("sepia", video_url=MP4_DATA_URI))
    assert edited.status == "succeeded" and edited.video_urls


def test_edit_and_extension_bodies_on_the_wire(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    edit = hook.build_source_request("edit", "p", video_url="https://v.example/a.mp4")
    assert (edit.method, edit.path) == ("POST", "/v1/videos/edits")
    assert edit.json == {
        "model": "grok-imagine-video",
        "prompt": "p",
        "video": {"url": "https://v.example/a.mp4"},
    }
    extend = hook.build_source_request(
        "extend", "p", video_url="https://v.example/a.mp4", duration="4"
    )
    assert extend.path == "/v1/videos/extensions" and extend.json["duration"] == 4
    assert requests(grokvideo_emulator) == 0


@pytest.mark.parametrize(
    ("operation", "kwargs", "field", "words"),
    [
        ("extend", {"duration": 1}, "duration", "2 to 10"),
        ("extend", {"duration": 11}, "duration", "2 to 10"),
        ("extend", {"duration": "six"}, "duration", "positive number"),
        ("extend", {"source_duration": 31}, "source_duration", "2 to 30 s"),
        ("extend", {"source_duration": 1}, "source_duration", "2 to 30 s"),
        ("edit", {"source_duration": 9}, "source_duration", "at most 8.7 s"),
        ("edit", {"duration": 5}, "duration", "keeps its source"),
        ("edit", {"video_url": "ftp://v.example/a.mp4"}, "video_url", "data:video/mp4"),
        ("edit", {"video_url": "v.example/a.mp4"}, "video_url", "http or https"),
        ("edit", {"video_url": PNG_DATA_URI}, "video_url", "data:video/mp4"),
        ("edit", {"video_url": ""}, "video_url", "URL of the video"),
        ("extend", {"prompt": " "}, "prompt", "what happens next"),
    ],
)
def test_bad_edits_and_extensions_are_refused_before_any_request(
    grokvideo_emulator, operation, kwargs, field, words
):
    hook = make_hook(grokvideo_emulator)
    arguments = {"prompt": "p", "video_url": "https://v.example/a.mp4", **kwargs}
    submit = hook.submit_video_edit if operation == "edit" else hook.submit_video_extension
    if operation == "edit" and "duration" in kwargs:  # submit_video_edit takes no duration
        submit = lambda **kw: hook.build_source_request("edit", **kw)  # noqa: E731
    with pytest.raises(InvalidVideoRequest) as info:
        submit(**arguments)
    assert info.value.field == field and words in str(info.value)
    assert requests(grokvideo_emulator) == 0


def test_relax_limits_sends_what_xai_may_have_widened(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator, relax_limits=True)
    call = hook.build_source_request(
        "extend", "p", video_url="https://v.example/a.mp4", duration=12, source_duration=40
    )
    assert call.json["duration"] == 12
    # ...and the emulator, a second witness of xAI's documented limits, refuses it.
    with pytest.raises(UpstreamHTTPError) as info:
        hook.submit_video_extension("p", video_url="https://v.example/a.mp4", duration=12)
    assert info.value.status_code == 400 and "2-10" in info.value.message


def test_the_emulator_refuses_an_edit_of_a_video_too_long(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    clip = wait_until_done(hook, hook.submit_video("long [emulator:seconds=0.2]", duration=10))
    # Its length unknown to the hook (not passed): the upstream's own refusal reaches the user.
    with pytest.raises(UpstreamHTTPError) as info:
        hook.submit_video_edit("p", video_url=clip.video_urls[0])
    assert info.value.status_code == 400 and "at most 8.7 s" in info.value.message
    # Passed (as the operators do from the wait's XCom): refused before any request.
    before = requests(grokvideo_emulator)
    with pytest.raises(InvalidVideoRequest, match=r"at most 8\.7 s"):
        hook.submit_video_edit("p", video_url=clip.video_urls[0], source_duration=clip.duration)
    assert requests(grokvideo_emulator) == before


@pytest.mark.parametrize("upstream", ["xcompute", "mountsea"])
def test_the_resellers_refuse_edits_extensions_and_references_naming_xai(
    grokvideo_emulator, upstream
):
    hook = make_hook(grokvideo_emulator, upstream)
    with pytest.raises(InvalidVideoRequest) as edit:
        hook.submit_video_edit("p", video_url="https://v.example/a.mp4")
    assert str(edit.value) == (
        f"{upstream}: operation='edit' is not accepted; {upstream} allows no video edits; "
        "video edits are offered by xai"
    )
    with pytest.raises(InvalidVideoRequest, match="video extensions are offered by xai"):
        hook.submit_video_extension("p", video_url="https://v.example/a.mp4", duration=6)
    with pytest.raises(InvalidVideoRequest) as refs:
        hook.submit_video("p", reference_image_urls=["https://i.example/a.png"])
    assert refs.value.field == "reference_image_urls"
    assert "reference images (reference-to-video) are offered by xai" in str(refs.value)
    with pytest.raises(InvalidVideoRequest, match="offered by xai"):
        hook.estimate_source_cost("edit", video_url="https://v.example/a.mp4")
    assert requests(grokvideo_emulator, upstream) == 0


# -- reference images --------------------------------------------------------------------------


def test_reference_images_end_to_end(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    refs = [f"https://i.example/{n}.png" for n in range(6)] + [PNG_DATA_URI]
    call = hook.build_request("the same bottle on a beach", duration=10, reference_image_urls=refs)
    assert call.json["reference_images"] == [{"url": url} for url in refs]
    assert "image" not in call.json
    generation = wait_until_done(
        hook,
        hook.submit_video(
            "the bottle [emulator:seconds=0.2]", duration=10, reference_image_urls=refs
        ),
    )
    assert generation.status == "succeeded"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        (
            {"reference_image_urls": [f"https://i.example/{n}.png" for n in range(8)]},
            "reference_image_urls",
            "at most 7",
        ),
        (
            {"reference_image_urls": ["https://i.example/a.png"], "duration": 11},
            "duration",
            "at most 10 s with reference images",
        ),
        (
            {
                "reference_image_urls": ["https://i.example/a.png"],
                "image_urls": ["https://i.example/b.png"],
            },
            "image_urls",
            "not both",
        ),
        ({"reference_image_urls": ["ftp://i.example/a.png"]}, "reference_image_urls", "http"),
        ({"reference_image_urls": [3]}, "reference_image_urls", "list of URL strings"),
    ],
)
def test_bad_reference_images_are_refused_before_any_request(
    grokvideo_emulator, kwargs, field, words
):
    hook = make_hook(grokvideo_emulator)
    with pytest.raises(InvalidVideoRequest) as info:
        hook.submit_video("p", **kwargs)
    assert info.value.field == field and words in str(info.value)
    assert requests(grokvideo_emulator) == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"reference_images": [{"url": f"https://i.example/{n}.png"} for n in range(8)]},
            "at most 7",
        ),
        ({"reference_images": [{"url": "https://i.example/a.png"}], "duration": 12}, "at most 10"),
        (
            {
                "reference_images": [{"url": "https://i.example/a.png"}],
                "image": {"url": "https://i.example/b.png"},
            },
            "cannot be used together",
        ),
        ({"reference_images": [{"url": "file:///a.png"}]}, "http(s) URL"),
        ({"resolution": "1080p"}, "not supported by grok-imagine-video"),
    ],
)
def test_the_emulator_refuses_what_xai_documents_as_invalid(grokvideo_emulator, body, words):
    answer = httpx.post(
        grokvideo_emulator.base_url("xai") + "/v1/videos/generations",
        json={"prompt": "p", **body},
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
    )
    assert answer.status_code == 400 and words in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v1/videos/edits", {"prompt": "p"}, "video is required"),
        ("/v1/videos/edits", {"video": {"url": "https://v.example/a.mp4"}}, "prompt is required"),
        (
            "/v1/videos/edits",
            {"prompt": "p", "video": {"url": "https://v.example/a.mp4"}, "duration": 5},
            "unknown field",
        ),
        ("/v1/videos/edits", {"prompt": "p", "video": {"url": PNG_DATA_URI}}, "data:video/mp4"),
        (
            "/v1/videos/extensions",
            {"prompt": "p", "video": {"url": "https://v.example/a.mp4"}, "duration": 11},
            "2-10",
        ),
        (
            "/v1/videos/extensions",
            {"prompt": "p", "video": "https://v.example/a.mp4"},
            "video must be an object",
        ),
    ],
)
def test_the_emulator_refuses_bad_edits_and_extensions(grokvideo_emulator, path, body, words):
    answer = httpx.post(
        grokvideo_emulator.base_url("xai") + path,
        json=body,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
    )
    assert answer.status_code == 400 and words in answer.json()["error"]
    assert httpx.get(grokvideo_emulator.base_url("xai") + path).status_code in (400, 405)


def test_edits_share_the_faults_and_rate_limits_of_submits(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    grokvideo_emulator.inject("429", count=1, upstream="xai", endpoint="submit", retry_after=0.1)
    generation_id = hook.submit_video_edit("p", video_url="https://v.example/a.mp4")
    assert generation_id and grokvideo_emulator.stats()["faults_fired"] == {"429": 1}
    grokvideo_emulator.inject("500", count=1, upstream="xai", endpoint="submit")
    with pytest.raises(UpstreamHTTPError) as info:  # a 5xx submit is never retried
        hook.submit_video_extension("p", video_url="https://v.example/a.mp4")
    assert info.value.status_code == 500
    grokvideo_emulator.set_rate_limits({"xai": 1})
    key = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    url = grokvideo_emulator.base_url("xai") + "/v1/videos/extensions"
    body = {"prompt": "p", "video": {"url": "https://v.example/a.mp4"}}
    codes = [httpx.post(url, json=body, headers=key).status_code for _ in range(3)]
    assert 429 in codes
    assert grokvideo_emulator.stats()["upstreams"]["xai"]["rate_limited_submit"] >= 1


# -- 1080p ------------------------------------------------------------------------------------


def test_1080p_on_imagine_1_5_only(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    generation = wait_until_done(
        hook,
        hook.submit_video(
            "city at night [emulator:seconds=0.2]",
            model="grok-imagine-video-1.5",
            resolution="1080P",
            duration=5,
        ),
    )
    assert generation.status == "succeeded"
    with pytest.raises(InvalidVideoRequest) as info:
        hook.submit_video("p", resolution="1080p")
    assert info.value.model == "grok-imagine-video" and "'720p'" in str(info.value)


# -- costs ------------------------------------------------------------------------------------


def test_extension_estimated_by_its_added_seconds(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    estimate = hook.estimate_source_cost(
        "extend", video_url="https://v.example/a.mp4", duration=10, source_duration=20
    )
    # 10 s added; the output's resolution follows the source: priced at the dearest, 720p.
    assert (estimate.duration, estimate.resolution, estimate.cost_usd) == (
        10,
        "720p",
        Decimal("0.7"),
    )
    assert "seconds it adds" in estimate.source
    default = hook.estimate_source_cost("extend", video_url="https://v.example/a.mp4")
    assert default.duration == 6 and "default of 6" in default.source


def test_edit_estimated_by_its_sources_length_else_at_the_cap(grokvideo_emulator):
    hook = make_hook(grokvideo_emulator)
    known = hook.estimate_source_cost(
        "edit", video_url="https://v.example/a.mp4", source_duration=5
    )
    assert (known.duration, known.cost_usd) == (5, Decimal("0.35"))
    unknown = hook.estimate_source_cost("edit", video_url="https://v.example/a.mp4")
    assert (unknown.duration, unknown.cost_usd) == (8.7, Decimal("0.609"))
    assert "8.7 s" in unknown.source
    assert requests(grokvideo_emulator) == 0


def test_1080p_priced_at_the_base_price_or_where_a_price_is_configured(grokvideo_emulator):
    plain = make_hook(grokvideo_emulator)
    # xAI's model list: $0.08/s base price of 1.5, at every resolution (8 s by default).
    base = plain.estimate_cost(model="grok-imagine-video-1.5", resolution="1080p")
    assert base.cost_usd == Decimal("0.64") and "base price" in base.source
    priced = make_hook(
        grokvideo_emulator, prices={"grok-imagine-video-1.5": {"720p": 0.1, "1080p": 0.2}}
    )
    estimate = priced.estimate_cost(model="grok-imagine-video-1.5", resolution="1080p", duration=5)
    assert estimate.cost_usd == Decimal("1")
    no_1080 = make_hook(grokvideo_emulator, prices={"grok-imagine-video-1.5": {"720p": 0.1}})
    assert no_1080.estimate_cost(model="grok-imagine-video-1.5", resolution="1080p") is None
