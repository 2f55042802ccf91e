"""The normalized types every hook, the trigger and the sensor speak."""

from __future__ import annotations

import json

import pytest

from airflow_provider_grokvideo.models import (
    STATUSES,
    TERMINAL_STATUSES,
    GenerationRequest,
    VideoGeneration,
    VideoRequest,
    WaitResult,
)


def finished() -> VideoGeneration:
    return VideoGeneration(
        generation_id="task_01",
        status="succeeded",
        progress=100,
        video_urls=["https://cdn.example/v.mp4", "https://cdn.example/v2.mp4"],
        thumbnail_url="https://cdn.example/t.jpg",
        expires_at=1_764_000_000.5,
        estimated_seconds=120.0,
        created_at=1_763_990_000.0,
    )


def test_a_generation_round_trips_through_json_as_xcom_and_events_carry_it() -> None:
    generation = finished()
    data = json.loads(json.dumps(generation.to_dict()))
    assert data["video_urls"] == ["https://cdn.example/v.mp4", "https://cdn.example/v2.mp4"]
    assert VideoGeneration.from_dict(data) == generation


def test_from_dict_ignores_unknown_keys_and_takes_any_sequence_of_urls() -> None:
    data = {"generation_id": "g", "status": "running", "progress": 40, "added_later": 1}
    assert VideoGeneration.from_dict(data) == VideoGeneration("g", "running", progress=40)
    urls = VideoGeneration.from_dict({**data, "video_urls": ("https://a", "https://b")})
    assert urls.video_urls == ["https://a", "https://b"]
    assert VideoGeneration.from_dict({**data, "video_urls": None}).video_urls == []


def test_an_unknown_status_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"status must be one of queued, running, .*, not 'done'"):
        VideoGeneration("g", "done")  # type: ignore[arg-type]


@pytest.mark.parametrize("progress", [-1, 101])
def test_progress_outside_0_to_100_is_refused(progress: int) -> None:
    with pytest.raises(ValueError, match=f"progress must be within 0..100, not {progress}"):
        VideoGeneration("g", "running", progress=progress)


@pytest.mark.parametrize("progress", [0, 100, None])
def test_progress_at_its_edges_or_unknown_is_accepted(progress: int | None) -> None:
    assert VideoGeneration("g", "running", progress=progress).progress == progress


@pytest.mark.parametrize("status", STATUSES)
def test_only_final_statuses_are_terminal(status: str) -> None:
    generation = VideoGeneration("g", status)  # type: ignore[arg-type]
    assert generation.is_terminal == (status not in ("queued", "running"))
    assert set(STATUSES) >= TERMINAL_STATUSES


def test_a_request_leaves_every_optional_field_to_the_upstream() -> None:
    request = VideoRequest(prompt="a cat")
    assert (request.model, request.duration, request.aspect_ratio, request.resolution) == (
        None,
        None,
        None,
        None,
    )
    assert request.image_urls == ()
    with pytest.raises(AttributeError):
        request.prompt = "a dog"  # type: ignore[misc]


def test_a_generation_request_takes_its_fields_by_name_and_the_rest_as_options() -> None:
    request = GenerationRequest.of(
        "a kite", duration="6", image_urls="https://i.example/a.png", generate_audio=True
    )
    assert (request.duration, request.image_urls) == ("6", "https://i.example/a.png")
    assert request.options == {"generate_audio": True}
    with pytest.raises(TypeError, match="durration"):
        GenerationRequest("a kite", durration=6)  # type: ignore[call-arg]


def test_the_neutral_request_reads_urls_leniently_and_takes_the_default_model() -> None:
    one = GenerationRequest("p", image_urls="https://i.example/a.png", reference_image_urls="r")
    neutral = one.neutral("grok-imagine-video")
    assert neutral == VideoRequest(
        prompt="p",
        model="grok-imagine-video",
        image_urls=("https://i.example/a.png",),
        reference_image_urls=("r",),
    )
    assert GenerationRequest("p", model="mine").neutral("default").model == "mine"
    assert GenerationRequest("p").neutral(None).model is None  # the upstream's default
    assert GenerationRequest("p", reference_image_urls=3).neutral(None).reference_image_urls == 3


def test_cost_is_exact_ticks_with_its_source() -> None:
    billed = VideoGeneration("g", "succeeded", cost_ticks=4_200_000_000, cost_source="billed")
    assert str(billed.cost_usd) == "0.42"
    data = json.loads(json.dumps(billed.to_dict()))
    assert (data["cost_ticks"], data["cost_usd"], data["cost_source"]) == (
        4_200_000_000,
        "0.42",
        "billed",
    )
    assert VideoGeneration.from_dict(data) == billed
    # Dollars alone (a hand-written dict) are read back exactly as ticks.
    assert (
        VideoGeneration.from_dict(
            {
                "generation_id": "g",
                "status": "succeeded",
                "cost_usd": "0.3",
                "cost_source": "estimated",
            }
        ).cost_ticks
        == 3_000_000_000
    )
    assert VideoGeneration("g", "running").cost_usd is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cost_ticks": -1, "cost_source": "billed"},
        {"cost_ticks": 1.5, "cost_source": "billed"},
        {"cost_ticks": True, "cost_source": "billed"},
        {"cost_ticks": 1, "cost_source": "guessed"},
        {"cost_ticks": 1},
        {"cost_source": "billed"},
    ],
)
def test_cost_fields_are_checked(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="cost"):
        VideoGeneration("g", "succeeded", **kwargs)


def test_the_videos_length_round_trips_and_source_requests_are_plain_data():
    from airflow_provider_grokvideo.models import SOURCE_OPERATIONS, SourceVideoRequest

    video = VideoGeneration("g", "succeeded", video_urls=["https://v/a.mp4"], duration=8.5)
    assert video.to_dict()["duration"] == 8.5
    assert VideoGeneration.from_dict(video.to_dict()) == video
    assert VideoGeneration.from_dict({"generation_id": "g", "status": "running"}).duration is None
    request = SourceVideoRequest("extend", "next", "https://v/a.mp4", duration=6)
    assert SOURCE_OPERATIONS == ("edit", "extend") and request.source_duration is None


def waited(conn_id: str | None = "grokvideo_xai_default") -> WaitResult:
    fields = {name: getattr(finished(), name) for name in VideoGeneration.__dataclass_fields__}
    fields.update(cost_ticks=4_800_000_000, cost_source="billed")
    return WaitResult(**fields, conn_id=conn_id)


def test_a_wait_result_is_the_generations_xcom_with_the_connection_last() -> None:
    result = waited()
    data = json.loads(json.dumps(result.to_xcom()))
    as_generation = VideoGeneration.from_dict(data).to_dict()
    # The JSON users already pull: the generation's own keys, in their order, then conn_id.
    assert list(data) == [*as_generation, "conn_id"]
    assert {k: v for k, v in data.items() if k != "conn_id"} == as_generation
    assert data["conn_id"] == "grokvideo_xai_default" and data["cost_usd"] == "0.48"
    assert WaitResult.from_xcom(data) == result


def test_an_older_versions_result_reads_without_a_connection() -> None:
    old = finished().to_dict()  # what a wait pushed before it named its connection
    assert WaitResult.from_xcom(old).conn_id is None
    assert WaitResult.from_xcom(old).generation_id == "task_01"
    assert WaitResult.from_xcom(finished()).conn_id is None
    assert WaitResult.from_xcom(waited()) == waited()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("{'generation_id': 'g', 'status': 'succeeded'}", TypeError),  # text is never evaluated
        ([finished().to_dict()], TypeError),
        ({**finished().to_dict(), "conn_id": 7}, ValueError),
        ({**finished().to_dict(), "status": "done"}, ValueError),
        ({**finished().to_dict(), "cost_ticks": -1, "cost_source": "billed"}, ValueError),
    ],
)
def test_a_wait_result_that_is_not_one_is_refused(value: object, error: type) -> None:
    with pytest.raises(error):
        WaitResult.from_xcom(value)
