"""The three dialects against the upstreams' documented JSON (copied from UPSTREAMS.md)."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.dialects import mountsea, xai, xcompute
from airflow_provider_grokvideo.dialects.base import error_details
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
from airflow_provider_grokvideo.models import VideoRequest

XC = xcompute.DIALECT
MS = mountsea.DIALECT
XA = xai.DIALECT


@pytest.mark.parametrize("dialect", [XC, MS, XA])
def test_durations_go_out_as_json_numbers(dialect):
    body = dialect.submit_call(VideoRequest(prompt="p", duration="10")).json  # templated text
    assert body["duration"] == 10 and isinstance(body["duration"], int)
    body = dialect.submit_call(VideoRequest(prompt="p", duration=10.0)).json
    assert body["duration"] == 10 and isinstance(body["duration"], int)


@pytest.mark.parametrize("dialect", [XC, MS, XA])
def test_omitted_fields_are_left_to_the_upstream_default(dialect):
    assert dialect.submit_call(VideoRequest(prompt="p")).json == {
        "model": dialect.default_model,
        "prompt": "p",
    }


# --- validation: every documented limit ----------------------------------------------------

REFUSALS = [
    # (dialect, field, request kwargs, words the message must contain)
    (XC, "prompt", {"prompt": ""}, ["non-empty"]),
    (XC, "prompt", {"prompt": "   "}, ["non-empty"]),
    (XC, "duration", {"duration": 5}, ["6 to 30"]),
    (XC, "duration", {"duration": 31}, ["6 to 30"]),
    (XC, "duration", {"duration": 6.5}, ["6 to 30"]),
    (XC, "duration", {"duration": "six"}, ["positive number"]),
    (XC, "duration", {"duration": True}, ["positive number"]),
    (XC, "aspect_ratio", {"aspect_ratio": "4:3"}, ["'16:9'", "'2:3'"]),
    (XC, "resolution", {"resolution": "1080p"}, ["'480p'", "'720p'"]),
    (
        XC,
        "image_urls",
        {"image_urls": tuple(f"https://e.com/{i}.png" for i in range(8))},
        ["8 images", "at most 7"],
    ),
    (XC, "image_urls", {"image_urls": ("data:image/png;base64,AAAA",)}, ["base64"]),
    (XC, "image_urls", {"image_urls": ("ftp://e.com/a.png",)}, ["http"]),
    (XC, "image_urls", {"image_urls": ("not a url",)}, ["http"]),
    (MS, "prompt", {"prompt": "x" * 1001}, ["1000 characters", "1001"]),
    (MS, "duration", {"duration": 8}, ["6, 10, 12, 16, 20"]),
    (MS, "duration", {"duration": 15}, ["6, 10, 12, 16, 20"]),
    (MS, "aspect_ratio", {"aspect_ratio": "4:3"}, ["'9:16'"]),
    (MS, "resolution", {"resolution": "1080P"}, ["'480P'", "'720P'"]),
    (
        MS,
        "image_urls",
        {"image_urls": tuple(f"https://e.com/{i}.png" for i in range(6))},
        ["6 images", "at most 5"],
    ),
    (MS, "image_urls", {"image_urls": ("data:image/png;base64,AAAA",)}, ["base64"]),
    (MS, "image_urls", {"image_urls": ("file:///tmp/a.png",)}, ["http"]),
    (XA, "prompt", {"prompt": ""}, ["non-empty"]),
    (XA, "duration", {"duration": 0}, ["positive"]),
    (XA, "duration", {"duration": 16}, ["1 to 15"]),
    (XA, "aspect_ratio", {"aspect_ratio": "21:9"}, ["'4:3'", "'3:4'"]),
    (XA, "resolution", {"resolution": "1080p"}, ["'480p'"]),
    (
        XA,
        "image_urls",
        {"image_urls": ("https://e.com/1.png", "https://e.com/2.png")},
        ["2 images", "at most 1 image"],
    ),
    (XA, "image_urls", {"image_urls": ("s3://bucket/a.png",)}, ["http", "data URI"]),
]


@pytest.mark.parametrize(
    ("dialect", "field", "kwargs", "words"),
    REFUSALS,
    ids=[f"{d.name}-{f}-{i}" for i, (d, f, _, _) in enumerate(REFUSALS)],
)
def test_refusals_name_the_field_value_and_what_is_allowed(dialect, field, kwargs, words):
    request = VideoRequest(**{"prompt": "a prompt", **kwargs})
    with pytest.raises(InvalidVideoRequest) as info:
        dialect.submit_call(request)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == field and error.upstream == dialect.name
    text = str(error)
    assert text.startswith(f"{dialect.name}: {field}=")
    for word in words:
        assert word in text
    if error.model is not None:  # a documented limit of a known model: the model is named
        assert error.model == dialect.default_model
        assert f"not accepted by model {dialect.default_model!r}" in text


# --- per model ------------------------------------------------------------------------------

#: Every model each dialect knows, from the seeds and the vendors' pages (UPSTREAMS.md).
KNOWN_MODELS = {
    XC: ("grok-imagine-1.0-video-apimart", "grok-imagine-1.5-video-apimart"),
    MS: ("grok-imagine-video",),
    XA: ("grok-imagine-video", "grok-imagine-video-1.5"),
}
#: Per model: (accepted request fields, refused request fields with the words of the refusal).
PER_MODEL = [
    (
        XA,
        "grok-imagine-video",
        {"duration": 15, "resolution": "720p", "aspect_ratio": "3:4"},
        ("duration", {"duration": 20}, "1 to 15"),
    ),
    (
        XA,
        "grok-imagine-video-1.5",
        {"duration": 1, "resolution": "1080p", "aspect_ratio": "4:3"},
        ("resolution", {"resolution": "4k"}, "'1080p'"),
    ),
    (
        XA,
        "grok-imagine-video",
        {"duration": 1, "resolution": "480P"},
        ("resolution", {"resolution": "1080p"}, "'720p'"),
    ),
    (
        XA,
        "grok-imagine-video-1.5",
        {"image_urls": ("data:image/png;base64,AAAA",)},
        ("image_urls", {"image_urls": ("https://e.com/1.png", "https://e.com/2.png")}, "at most 1"),
    ),
    (
        XC,
        "grok-imagine-1.0-video-apimart",
        {"duration": 30, "resolution": "720p"},
        ("duration", {"duration": 31}, "6 to 30"),
    ),
    (
        XC,
        "grok-imagine-1.5-video-apimart",
        {"duration": 6, "aspect_ratio": "2:3"},
        ("duration", {"duration": 5}, "6 to 30"),
    ),
    (
        XC,
        "grok-imagine-1.5-video-apimart",
        {"resolution": "480p"},
        ("aspect_ratio", {"aspect_ratio": "4:3"}, "'16:9'"),
    ),
    (
        MS,
        "grok-imagine-video",
        {"duration": 20, "resolution": "480p"},
        ("duration", {"duration": 15}, "6, 10, 12, 16, 20"),
    ),
]


def test_each_dialect_knows_todays_models():
    for dialect, models in KNOWN_MODELS.items():
        assert tuple(dialect.models) == models
        assert dialect.default_model in dialect.models
        for model in models:
            assert dialect.model_limits(model) is dialect.models[model]
    assert XA.model_limits(None) is XA.models["grok-imagine-video"]
    assert XA.model_limits("grok-imagine-video-2") is None


@pytest.mark.parametrize(
    ("dialect", "model", "accepted", "refused"),
    PER_MODEL,
    ids=[f"{d.name}-{m}-{r[0]}" for d, m, _, r in PER_MODEL],
)
def test_per_model_limits_accept_and_refuse_naming_the_model(dialect, model, accepted, refused):
    call = dialect.submit_call(VideoRequest(prompt="p", model=model, **accepted))
    assert call.json is not None and call.json["model"] == model
    field, kwargs, words = refused
    with pytest.raises(InvalidVideoRequest) as info:
        dialect.submit_call(VideoRequest(prompt="p", model=model, **kwargs))
    error = info.value
    assert (error.field, error.model, error.upstream) == (field, model, dialect.name)
    text = str(error)
    assert f"not accepted by model {model!r}" in text and f"for {model!r}" in text
    assert words in text


@pytest.mark.parametrize("dialect", [XC, MS, XA])
def test_an_unknown_model_is_sent_with_type_checks_only(dialect):
    wide = VideoRequest(
        prompt="p", model="grok-imagine-video-9", duration=45, aspect_ratio="21:9", resolution="4k"
    )
    call = dialect.submit_call(wide)
    assert call.json is not None
    assert call.json["model"] == "grok-imagine-video-9" and call.json["duration"] == 45
    for bad in (
        VideoRequest(prompt="", model="grok-imagine-video-9"),
        VideoRequest(prompt="p", model="grok-imagine-video-9", duration="soon"),
        VideoRequest(prompt="p", model="grok-imagine-video-9", aspect_ratio=169),
        VideoRequest(prompt="p", model="  "),
    ):
        with pytest.raises(InvalidVideoRequest) as info:
            dialect.submit_call(bad)
        assert info.value.model is None  # a type error, not a model's limit


@pytest.mark.parametrize("dialect", [XC, MS, XA])
def test_limits_at_their_edges_are_accepted(dialect):
    lim = dialect.limits
    for duration in (min(lim.durations), max(lim.durations)):
        dialect.submit_call(VideoRequest(prompt="p", duration=duration))
    for ratio in lim.aspect_ratios:
        dialect.submit_call(VideoRequest(prompt="p", aspect_ratio=ratio))
    images = tuple(f"https://e.com/{i}.png" for i in range(lim.max_images))
    dialect.submit_call(VideoRequest(prompt="p", image_urls=images))
    if lim.max_prompt_chars:
        dialect.submit_call(VideoRequest(prompt="x" * lim.max_prompt_chars))


@pytest.mark.parametrize("dialect", [XC, MS, XA])
def test_relaxed_limits_keep_only_type_checks(dialect):
    wide = VideoRequest(prompt="p", duration=45, aspect_ratio="21:9", resolution="1080p")
    with pytest.raises(InvalidVideoRequest):
        dialect.submit_call(wide)
    assert dialect.submit_call(wide, relaxed=True).json["duration"] == 45
    for bad in (VideoRequest(prompt=""), VideoRequest(prompt="p", duration="soon")):
        with pytest.raises(InvalidVideoRequest):
            dialect.submit_call(bad, relaxed=True)


# --- error bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text", "expected"),
    [
        (
            {"error": {"code": 402, "message": "insufficient balance", "type": "payment_required"}},
            "",
            ("payment_required", "insufficient balance"),
        ),
        (
            {"code": "Client specified an invalid argument", "error": "Incorrect API key provided"},
            "",
            ("Client specified an invalid argument", "Incorrect API key provided"),
        ),
        (
            {
                "statusCode": 400,
                "message": ["duration must be one of 6, 10"],
                "error": "Bad Request",
            },
            "",
            ("Bad Request", "duration must be one of 6, 10"),
        ),
        (
            None,
            "<html><head><title>502 Bad Gateway</title></head></html>",
            (None, "HTML page: 502 Bad Gateway"),
        ),
        (None, "", (None, "empty body")),
    ],
)
def test_error_details_reads_every_documented_error_shape(body, text, expected):
    assert error_details(body, text) == expected
