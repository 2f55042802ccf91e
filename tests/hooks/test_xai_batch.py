"""The xAI hook's Batch API calls over real sockets against the emulator (injected clock)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hook_support import make_hook

from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UpstreamHTTPError
from airflow_provider_grokvideo.pricing import BATCH_PRICE_SOURCE

SECRET = "sk-test-0123456789abcdef"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(emulator, monkeypatch) -> Clock:
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(emulator.app, "clock", clock)
    return clock


def test_validation_names_the_index_and_estimates_are_at_batch_prices(emulator):
    hook = make_hook(emulator)
    with pytest.raises(InvalidVideoRequest, match=r"requests\[1\]\.aspect_ratio"):
        hook.build_batch_requests(
            [{"prompt": "a"}, {"prompt": "b", "aspect_ratio": "5:1"}], ["x", "y"]
        )
    (built,) = hook.build_batch_requests(
        [{"prompt": "a", "duration": 6, "resolution": "720p"}], ["x"]
    )
    interactive = hook.estimate_cost("a", duration=6, resolution="720p")
    batch = hook.estimate_batch_cost(built)
    assert interactive is not None and batch is not None
    assert batch.cost_ticks * 2 == interactive.cost_ticks
    assert batch.cost_usd == Decimal("0.21") and BATCH_PRICE_SOURCE in batch.source
    (edit,) = hook.build_batch_requests(
        [{"prompt": "snow", "video_url": "https://x/v.mp4", "source_duration": 4}], ["e"]
    )
    edit_estimate = hook.estimate_batch_cost(edit)
    assert edit_estimate is not None and edit_estimate.duration == 4


def test_a_batch_through_the_hook(emulator, clock):
    hook = make_hook(emulator)
    batch = hook.create_batch("night")
    requests = hook.build_batch_requests(
        [{"prompt": f"spot {i} " + "x" * 300, "duration": 6} for i in range(9)],
        [f"t-{i}" for i in range(9)],
    )
    # Chunked within the byte limit (a tiny one here, to see it).
    assert hook.add_batch_requests(batch.batch_id, requests[:6], max_bytes=1200) == 3
    assert emulator.stats()["xai_batches"]["adds"] == 3
    held = hook.batch_request_ids(batch.batch_id)
    assert sorted(held) == [f"t-{i}" for i in range(6)] and set(held.values()) == {"pending"}
    missing = [r for r in requests if r.batch_request_id not in held]
    assert hook.add_batch_requests(batch.batch_id, missing) == 1
    assert hook.get_batch(batch.batch_id).num_requests == 9
    clock.now += 60
    counters = asyncio.run(hook.aget_batch(batch.batch_id))
    assert counters.is_done(clock.now) and counters.num_success == 9
    results = list(hook.batch_results(batch.batch_id, limit=2))  # five pages
    assert sorted(r.batch_request_id for r in results) == [*sorted(held), "t-6", "t-7", "t-8"]
    assert all(r.generation.cost_ticks == 1_500_000_000 for r in results)
    cancelled = hook.cancel_batch(batch.batch_id)
    assert cancelled.cancel_time is not None


def test_a_refused_add_and_a_bad_key_never_show_the_key(emulator, clock):
    hook = make_hook(emulator)
    batch = hook.create_batch("n")
    (one,) = hook.build_batch_requests([{"prompt": "a"}], ["same"])
    hook.add_batch_requests(batch.batch_id, [one])
    with pytest.raises(UpstreamHTTPError, match="already exists"):
        hook.add_batch_requests(batch.batch_id, [one])
    with pytest.raises(UpstreamHTTPError) as caught:
        make_hook(emulator, key=SECRET).get_batch(batch.batch_id)
    assert SECRET not in str(caught.value)


def test_find_batch_by_name_over_pages(emulator, clock):
    hook = make_hook(emulator)
    for i in range(3):
        hook.create_batch(f"other {i}")
    clock.now += 1
    mine = hook.create_batch("mine [abc]")
    clock.now += 1
    newest = hook.create_batch("mine [abc]")
    found = hook.find_batch("mine [abc]")
    assert found is not None and found.batch_id == newest.batch_id != mine.batch_id
    assert hook.find_batch("nobody") is None


def test_a_lost_add_answer_is_settled_by_listing_never_by_adding_twice(emulator, clock):
    from airflow_provider_grokvideo.exceptions import SubmitOutcomeUnknown

    hook = make_hook(emulator)
    batch = hook.create_batch("lossy")
    requests = hook.build_batch_requests([{"prompt": "a"}, {"prompt": "b"}], ["x", "y"])
    emulator.inject("lost-answer", upstream="xai", endpoint="batch")
    with pytest.raises(SubmitOutcomeUnknown):
        hook.add_batch_requests(batch.batch_id, requests)  # not retried: it may have added
    held = hook.batch_request_ids(batch.batch_id)
    assert sorted(held) == ["x", "y"]  # it had: nothing is missing, nothing is sent again
    assert [r for r in requests if r.batch_request_id not in held] == []
    assert emulator.stats()["xai_batches"]["requests_added"] == 2
    # A 503 on a read is weather: retried.
    emulator.inject("503", upstream="xai", endpoint="batch")
    assert hook.get_batch(batch.batch_id).num_requests == 2


# -- adds within xAI's 100 calls per 30 s -----------------------------------------------------


def test_add_calls_are_spaced_within_xais_limit_on_an_injected_clock():
    from airflow_provider_grokvideo.dialects.xai_batch import (
        ADD_CALLS_PER_SECOND,
        ADD_WINDOW_SECONDS,
        MAX_ADD_CALLS,
    )
    from airflow_provider_grokvideo.hooks.pacer import Turns

    # 250 add calls asking at once (one task's big batch, or three tasks' together).
    turns = Turns(ADD_CALLS_PER_SECOND)
    for index in range(250):
        turns.push(0.0, index)
    sent: list[float] = []
    now = 0.0
    while len(sent) < 250:
        sent += [now for _ in turns.release(now, lambda item: True)]
        at = turns.next_at(lambda item: True)
        now = max(now, at) if at is not None else now
    busiest = max(sum(start <= t < start + ADD_WINDOW_SECONDS for t in sent) for start in sent)
    assert busiest <= MAX_ADD_CALLS  # never over xAI's limit in any 30 s...
    assert busiest >= MAX_ADD_CALLS - 2  # ...and not far under it
    assert sent[-1] == pytest.approx(249 * 1.02 / ADD_CALLS_PER_SECOND)


class RecordingPacer:
    def __init__(self) -> None:
        self.turns = 0

    def turn(self, on_turn=None) -> float:
        self.turns += 1
        return 0.0


def test_every_add_call_and_its_retry_takes_a_turn_of_the_add_budget(emulator, clock, monkeypatch):
    from airflow_provider_grokvideo.dialects.xai_batch import ADD_CALLS_PER_SECOND
    from airflow_provider_grokvideo.hooks.xai_batch import XAIBatchMixin

    hook = make_hook(emulator)
    # One budget per key and process, apart from the key's request budget.
    assert hook.batch_add_pacer is make_hook(emulator).batch_add_pacer
    assert hook.batch_add_pacer is not hook.sync_pacer
    assert hook.batch_add_pacer.budget.configured == ADD_CALLS_PER_SECOND
    assert make_hook(emulator, key="another-key").batch_add_pacer is not hook.batch_add_pacer

    adds = RecordingPacer()
    monkeypatch.setattr(XAIBatchMixin, "batch_add_pacer", property(lambda self: adds))
    batch = hook.create_batch("paced")
    requests = hook.build_batch_requests(
        [{"prompt": f"spot {i} " + "x" * 300} for i in range(6)], [f"p-{i}" for i in range(6)]
    )
    # Refused before it was read (a 429 of the key's budget): sent again, a call again.
    emulator.inject("429", upstream="xai", endpoint="batch", retry_after=0)
    assert hook.add_batch_requests(batch.batch_id, requests, max_bytes=1200) == 3
    assert adds.turns == 4  # three calls, one of them sent twice
    assert emulator.stats()["xai_batches"]["requests_added"] == 6
