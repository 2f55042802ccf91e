"""The three dialects against the upstreams' documented JSON (copied from UPSTREAMS.md)."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.dialects import mountsea, xai, xcompute
from airflow_provider_grokvideo.dialects.base import HttpCall, as_epoch, error_details
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import VideoRequest

XC = xcompute.DIALECT
MS = mountsea.DIALECT
XA = xai.DIALECT

# --- exact request bodies -------------------------------------------------------------------


def test_xcompute_text_to_video_body():
    call = XC.submit_call(
        VideoRequest(
            prompt="一只狗在海滩上奔跑，阳光明媚，慢镜头",
            duration=6,
            aspect_ratio="16:9",
            resolution="720p",
        )
    )
    assert call == HttpCall(
        "POST",
        "/v1/videos/generations",
        json={
            "model": "grok-imagine-1.0-video-apimart",
            "prompt": "一只狗在海滩上奔跑，阳光明媚，慢镜头",
            "size": "16:9",
            "duration": 6,
            "quality": "720p",
        },
    )


def test_xcompute_image_to_video_body():
    call = XC.submit_call(
        VideoRequest(
            prompt="让画面动起来，添加自然的动态效果",
            image_urls=("https://example.com/start.png",),
            aspect_ratio="16:9",
            duration=10,
            resolution="720P",
        )
    )
    assert call.json == {
        "model": "grok-imagine-1.0-video-apimart",
        "prompt": "让画面动起来，添加自然的动态效果",
        "size": "16:9",
        "duration": 10,
        "quality": "720p",
        "image_urls": ["https://example.com/start.png"],
    }


def test_mountsea_text_to_video_body():
    call = MS.submit_call(
        VideoRequest(prompt="小猫在吃鱼", duration=10, aspect_ratio="9:16", resolution="720p")
    )
    assert call == HttpCall(
        "POST",
        "/xai/videos",
        json={
            "model": "grok-imagine-video",
            "prompt": "小猫在吃鱼",
            "duration": 10,
            "aspectRatio": "9:16",
            "resolution": "720P",
        },
    )


def test_mountsea_image_to_video_body():
    call = MS.submit_call(
        VideoRequest(
            prompt="animate",
            duration=6,
            image_urls=("https://example.com/a.png", "https://example.com/b.png"),
        )
    )
    assert call.json == {
        "model": "grok-imagine-video",
        "prompt": "animate",
        "duration": 6,
        "images": ["https://example.com/a.png", "https://example.com/b.png"],
    }


def test_xai_text_to_video_body():
    call = XA.submit_call(
        VideoRequest(prompt="a cat", duration=8, aspect_ratio="4:3", resolution="480p")
    )
    assert call == HttpCall(
        "POST",
        "/v1/videos/generations",
        json={
            "model": "grok-imagine-video",
            "prompt": "a cat",
            "duration": 8,
            "aspect_ratio": "4:3",
            "resolution": "480p",
        },
    )


def test_xai_image_to_video_body_accepts_url_and_data_uri():
    call = XA.submit_call(VideoRequest(prompt="move", image_urls=("https://e.com/i.png",)))
    assert call.json == {
        "model": "grok-imagine-video",
        "prompt": "move",
        "image": {"url": "https://e.com/i.png"},
    }
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    assert XA.submit_call(VideoRequest(prompt="move", image_urls=(data_uri,))).json["image"] == {
        "url": data_uri
    }


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


# --- xcompute answers ---------------------------------------------------------------------


def test_xcompute_submit_documented_shape():
    body = {
        "code": 200,
        "data": {
            "id": "task_01JNXXXXXXXXXXXXXXXXXX",
            "status": "submitted",
            "progress": 0,
            "created": 1710000000,
            "type": "video",
        },
    }
    assert XC.parse_submit(body) == "task_01JNXXXXXXXXXXXXXXXXXX"


def test_xcompute_submit_list_shape_of_other_apimart_models():
    body = {"code": 200, "data": [{"task_id": "task_abc", "status": "submitted"}]}
    assert XC.parse_submit(body) == "task_abc"


@pytest.mark.parametrize("body", [{"code": 200, "data": {}}, {"code": 200, "data": []}, "x", None])
def test_xcompute_submit_without_id_is_unexpected(body):
    with pytest.raises(UnexpectedResponse, match="no task id"):
        XC.parse_submit(body)


def test_xcompute_status_processing():
    body = {
        "code": 200,
        "data": {
            "id": "task_1",
            "status": "processing",
            "progress": 91,
            "created": 1765000891,
            "estimated_time": 600,
        },
    }
    parsed = XC.parse_status(body, "task_1")
    gen = parsed.generation
    assert (gen.status, gen.progress, gen.estimated_seconds, gen.created_at) == (
        "running",
        91,
        600.0,
        1765000891.0,
    )
    assert parsed.unknown_status is None and gen.video_urls == []


COMPLETED = {
    "id": "task_01K9S",
    "status": "completed",
    "progress": 100,
    "result": {
        "thumbnail_url": "https://upload.apimart.ai/f/image/t.jpg",
        "videos": [{"url": ["https://upload.apimart.ai/f/video/v.mp4"], "expires_at": 1762940095}],
    },
    "created": 1762853430,
    "completed": 1762853695,
    "estimated_time": 600,
    "actual_time": 265,
}


@pytest.mark.parametrize("enveloped", [True, False], ids=["enveloped", "bare"])
def test_xcompute_status_completed(enveloped):
    body = {"code": 200, "data": COMPLETED} if enveloped else COMPLETED
    gen = XC.parse_status(body, "task_01K9S").generation
    assert gen.status == "succeeded"
    assert gen.video_urls == ["https://upload.apimart.ai/f/video/v.mp4"]
    assert gen.thumbnail_url == "https://upload.apimart.ai/f/image/t.jpg"
    assert gen.expires_at == 1762940095.0
    assert gen.progress == 100


def test_xcompute_status_url_as_plain_string():
    task = {**COMPLETED, "result": {"videos": [{"url": "https://u.example/v.mp4"}]}}
    assert XC.parse_status(task, "t").generation.video_urls == ["https://u.example/v.mp4"]


def test_xcompute_status_failed_with_error():
    body = {
        "code": 200,
        "data": {
            "id": "t",
            "status": "failed",
            "error": {"code": 400, "message": "content rejected", "type": "invalid_request_error"},
        },
    }
    gen = XC.parse_status(body, "t").generation
    assert (gen.status, gen.error_code, gen.error_message) == (
        "failed",
        "invalid_request_error",
        "content rejected",
    )
    public_client_shape = {"status": "failed", "error": {"message": "content rejected"}}
    gen = XC.parse_status(public_client_shape, "t").generation
    assert (gen.status, gen.error_message) == ("failed", "content rejected")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("submitted", "queued"),
        ("pending", "queued"),
        ("processing", "running"),
        ("cancelled", "cancelled"),
        ("failed", "failed"),
    ],
)
def test_xcompute_status_words(word, status):
    assert XC.parse_status({"id": "t", "status": word}, "t").generation.status == status


def test_xcompute_unknown_status_means_still_running_and_is_reported():
    parsed = XC.parse_status({"code": 200, "data": {"id": "t", "status": "rendering"}}, "t")
    assert parsed.generation.status == "running" and parsed.unknown_status == "rendering"


def test_xcompute_completed_without_url_is_a_failure():
    gen = XC.parse_status({"id": "t", "status": "completed", "result": {"videos": []}}, "t")
    assert gen.generation.status == "failed" and "no video URL" in gen.generation.error_message


def test_xcompute_status_path_quotes_the_id():
    assert XC.status_call("task/../x") == HttpCall("GET", "/v1/tasks/task%2F..%2Fx")
    with pytest.raises(InvalidVideoRequest, match="generation_id"):
        XC.status_call("")


# --- Mountsea answers ---------------------------------------------------------------------


def test_mountsea_submit_shape():
    assert MS.parse_submit({"taskId": "abc"}) == "abc"
    with pytest.raises(UnexpectedResponse, match="taskId"):
        MS.parse_submit({"code": 200})


def test_mountsea_status_call_uses_a_query_parameter():
    assert MS.status_call("a/b") == HttpCall("GET", "/xai/tasks", params={"taskId": "a/b"})


def _ms_task(status, result=None, **extra):
    return {
        "taskId": "m1",
        "status": status,
        "result": result if result is not None else {},
        "errorMessage": "",
        "errorCode": 0,
        "finishedAt": "2026-01-02T03:04:05Z",
        "createdAt": "2026-01-02T03:00:00Z",
        "traceId": "tr",
        **extra,
    }


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", "queued"),
        ("ready", "queued"),
        ("assigned", "queued"),
        ("processing", "running"),
        ("cancelled", "cancelled"),
    ],
)
def test_mountsea_status_words(word, status):
    gen = MS.parse_status(_ms_task(word), "m1").generation
    assert gen.status == status and gen.error_message is None
    assert gen.created_at == as_epoch("2026-01-02T03:00:00Z")


@pytest.mark.parametrize(
    "result",
    [
        {"videoUrl": "https://cdn.example/v.mp4"},
        {"output": {"videos": [{"url": "https://cdn.example/v.mp4"}]}},
        {"videos": [{"url": "https://cdn.example/v.mp4"}]},
        {"data": {"assets": [{"href": "https://cdn.example/v.mp4"}]}},
    ],
    ids=["videoUrl", "output.videos", "videos", "any-url"],
)
def test_mountsea_completed_finds_the_url_wherever_it_is(result):
    gen = MS.parse_status(_ms_task("completed", result), "m1").generation
    assert gen.status == "succeeded" and gen.video_urls == ["https://cdn.example/v.mp4"]


def test_mountsea_known_names_win_over_other_urls():
    result = {"cover": "https://cdn.example/c.jpg", "videoUrl": "https://cdn.example/v.mp4"}
    gen = MS.parse_status(_ms_task("completed", result), "m1").generation
    assert gen.video_urls == ["https://cdn.example/v.mp4"]


def test_mountsea_completed_without_any_url_fails_clearly():
    gen = MS.parse_status(_ms_task("completed", {"note": "ok"}), "m1").generation
    assert gen.status == "failed" and gen.error_code == "no_video_url"
    assert "no http(s) video URL" in gen.error_message and "note" in gen.error_message


def test_mountsea_failed_and_timeout():
    gen = MS.parse_status(
        _ms_task("failed", errorMessage="content rejected", errorCode=123), "m1"
    ).generation
    assert (gen.status, gen.error_code, gen.error_message) == ("failed", "123", "content rejected")
    gen = MS.parse_status(_ms_task("timeout"), "m1").generation
    assert (gen.status, gen.error_code) == ("failed", "timeout")
    assert "timed the task out" in gen.error_message


def test_mountsea_unknown_status():
    parsed = MS.parse_status(_ms_task("queued_for_gpu"), "m1")
    assert parsed.generation.status == "running" and parsed.unknown_status == "queued_for_gpu"


# --- xAI answers --------------------------------------------------------------------------


def test_xai_submit_shape():
    assert XA.parse_submit({"request_id": "r-1"}) == "r-1"
    with pytest.raises(UnexpectedResponse, match="request_id"):
        XA.parse_submit({"id": "r-1"})


def test_xai_status_documented_answers():
    pending = XA.parse_status({"status": "pending", "model": "grok-imagine-video"}, "r").generation
    assert pending.status == "queued"
    done = XA.parse_status(
        {
            "status": "done",
            "video": {
                "url": "https://vidgen.x.ai/v.mp4",
                "duration": 6,
                "respect_moderation": True,
            },
            "model": "grok-imagine-video",
        },
        "r",
    ).generation
    assert done.status == "succeeded" and done.video_urls == ["https://vidgen.x.ai/v.mp4"]
    failed = XA.parse_status(
        {"status": "failed", "error": {"code": "invalid_argument", "message": "bad prompt"}}, "r"
    ).generation
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "invalid_argument",
        "bad prompt",
    )
    expired = XA.parse_status({"status": "expired"}, "r").generation
    assert expired.status == "expired" and "expired" in expired.error_message


def test_xai_done_without_url_is_a_moderation_failure():
    gen = XA.parse_status(
        {"status": "done", "video": {"respect_moderation": False}, "model": "grok-imagine-video"},
        "r",
    ).generation
    assert gen.status == "failed" and gen.error_code == "moderation"
    assert "moderation" in gen.error_message


def test_xai_progress_where_present_and_unknown_words():
    parsed = XA.parse_status({"status": "pending", "progress": 40}, "r")
    assert parsed.generation.progress == 40
    parsed = XA.parse_status({"status": "in_progress"}, "r")
    assert parsed.generation.status == "running" and parsed.unknown_status == "in_progress"


def test_xai_bad_key_is_recognized_from_a_400():
    assert XA.rejects_key(400, "Incorrect API key provided: xa***")
    assert not XA.rejects_key(400, "duration must be between 1 and 15")
    assert XC.rejects_key(401, "") and not XC.rejects_key(400, "Incorrect API key provided")


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


# --- xAI's billed cost ----------------------------------------------------------------------


def test_xai_billed_cost_is_read_in_exact_ticks():
    body = {
        "status": "done",
        "video": {"url": "https://vidgen.x.ai/v.mp4", "duration": 6, "respect_moderation": True},
        "model": "grok-imagine-video-1.5",
        "usage": {"cost_in_usd_ticks": 4_200_000_000},
    }
    gen = XA.parse_status(body, "req-1").generation
    assert (gen.cost_ticks, gen.cost_source) == (4_200_000_000, "billed")
    assert str(gen.cost_usd) == "0.42"
    assert gen.to_dict()["cost_usd"] == "0.42"


@pytest.mark.parametrize(
    ("usage", "ticks"),
    [
        (None, None),
        ({}, None),
        ({"cost_in_usd_ticks": "700000000"}, 700_000_000),
        ({"cost_in_usd_ticks": 5e8}, 500_000_000),
        ({"cost_in_usd_ticks": True}, None),
        ({"cost_in_usd_ticks": -1}, None),
        ({"cost_in_usd_ticks": 1.5}, None),
        ("lots", None),
    ],
)
def test_xai_cost_is_absent_unless_readable(usage, ticks):
    body = {"status": "pending", "model": "grok-imagine-video"}
    if usage is not None:
        body["usage"] = usage
    gen = XA.parse_status(body, "req-1").generation
    assert gen.cost_ticks == ticks
    assert gen.cost_source == ("billed" if ticks is not None else None)


def test_the_resellers_report_no_cost():
    done = {"code": 200, "data": {**COMPLETED}}
    assert XC.parse_status(done, "task_01K9S").generation.cost_usd is None
    ms = {"taskId": "t", "status": "completed", "result": {"videoUrl": "https://m.example/v.mp4"}}
    assert MS.parse_status(ms, "t").generation.cost_usd is None


# --- xAI: every error code, 202 answers, edits and extensions --------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "invalid_argument",
        "permission_denied",
        "failed_precondition",
        "service_unavailable",
        "internal_error",
    ],
)
@pytest.mark.parametrize("with_message", [True, False])
def test_xai_every_error_code_reaches_the_failed_generation(code, with_message):
    error = {"code": code, "message": "it went wrong"} if with_message else {"code": code}
    parsed = XA.parse_status({"status": "failed", "error": error}, "r-1")
    generation = parsed.generation
    assert (generation.status, generation.error_code) == ("failed", code)
    assert generation.error_message == ("it went wrong" if with_message else f"xAI reports {code}")


@pytest.mark.parametrize(
    ("body", "status", "progress"),
    [
        (None, "running", None),  # the schema's 202: no body
        ({"status": "pending", "progress": 24}, "queued", 24),
        ({"progress": 100}, "running", 99),  # a 202 is never done
        ({"status": "done"}, "running", None),
        ("not an object", "running", None),
    ],
)
def test_xai_202_is_still_running(body, status, progress):
    parsed = XA.parse_still_running(body, "r-1")
    assert parsed.unknown_status is None  # documented: no "undocumented status" warning
    assert (parsed.generation.status, parsed.generation.progress) == (status, progress)


def test_xai_done_answer_carries_the_videos_length():
    body = {"status": "done", "video": {"url": "https://vidgen.x.ai/a.mp4", "duration": 6}}
    assert XA.parse_status(body, "r-1").generation.duration == 6
    body["video"]["duration"] = "six"
    assert XA.parse_status(body, "r-1").generation.duration is None


def test_xai_offers_edits_extensions_and_references_the_resellers_none():
    assert all(XA.offers(f) for f in ("edit", "extend", "reference_images"))
    for dialect in (XC, MS):
        assert not any(dialect.offers(f) for f in ("edit", "extend", "reference_images"))
