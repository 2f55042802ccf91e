"""The review's pure part (``tasks/review.py``): what was waited for or downloaded becomes
candidates with their prompt, cost and player link; the answer picks the output, in its shape."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.tasks.review import (
    NONE_OPTION,
    approved_of,
    candidates_from,
    options_of,
    output_of,
)


def link(generation_id: str | None) -> str:
    return f"http://airflow.test/grokvideo/?generation_id={generation_id}"


WAITED = [
    {"generation_id": "g1", "status": "succeeded", "duration": 6, "cost_usd": "0.3",
     "cost_source": "billed", "video_urls": ["https://cdn/1.mp4"]},
    {"generation_id": "g2", "status": "succeeded", "duration": 6, "video_urls": []},
]  # fmt: skip
RECORDS = [
    {"generation_id": "g1", "prompt": "a lantern, warm"},
    {"generation_id": "g2", "prompt": "a lantern, cool", "cost_estimate": {"cost_usd": "0.3"}},
    {"generation_id": "g2", "videos": ["file:///v/g2.mp4"]},
]


def test_a_waits_outputs_become_candidates_with_prompt_cost_and_player_link() -> None:
    shape, found = candidates_from(WAITED, RECORDS, link)
    assert shape == "many"
    assert [c.label for c in found] == [
        "1. a lantern, warm (6 s, $0.30)",
        "2. a lantern, cool (6 s, $0.30)",
    ]
    assert found[1].cost_source == "estimated" and found[0].cost_source == "billed"
    text = found[0].markdown()
    assert (
        "[▶ Play it on the Grok videos page](http://airflow.test/grokvideo/?generation_id=g1)"
        in text
    )
    assert options_of(found)[-1] == NONE_OPTION
    assert output_of(shape, approved_of(found, [found[1].label])) == [WAITED[1]]
    assert output_of(shape, approved_of(found, [NONE_OPTION])) == []
    with pytest.raises(ValueError, match="one or the other"):
        approved_of(found, [NONE_OPTION, found[0].label])


def test_a_downloads_uris_are_matched_to_their_generation_and_keep_their_shape() -> None:
    shape, [one] = candidates_from(["file:///v/g2.mp4"], RECORDS, link)
    assert (shape, one.generation_id, one.prompt) == ("one", "g2", "a lantern, cool")
    assert output_of(shape, [one]) == ["file:///v/g2.mp4"]
    assert output_of(shape, []) is None
    shape, found = candidates_from([["file:///v/g2.mp4"], ["file:///v/other.mp4"]], RECORDS, link)
    assert shape == "many" and [c.generation_id for c in found] == ["g2", None]
