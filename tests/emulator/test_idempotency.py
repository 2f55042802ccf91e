"""APIMart's ``Idempotency-Key`` as the emulator keeps it (``emulator/idempotency.py``): which
keys are valid, and which earlier submission a key replays (per upstream and per account; the
oldest forgotten first)."""

from __future__ import annotations

import pytest

from airflow_provider_grokvideo.emulator.idempotency import (
    MAX_KEY_CHARS,
    IdempotencyKeys,
    key_problem,
)


@pytest.mark.parametrize("key", [b"k", b"grokvideo-0123", b"!~" * 10, b"x" * MAX_KEY_CHARS])
def test_visible_ascii_of_1_to_191_characters_is_a_key(key: bytes) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (b"", "1 to 191 characters (got 0)"),
        (b"x" * (MAX_KEY_CHARS + 1), "(got 192)"),
        (b"two words", "no spaces"),
        (b"tab\there", "visible ASCII"),
        ("caf\u00e9".encode(), "visible ASCII"),
    ],
)
def test_anything_else_is_refused_saying_why(key: bytes, words: str) -> None:
    problem = key_problem(key)
    assert problem is not None and words in problem


def test_a_key_replays_its_job_and_tells_whether_the_request_is_the_same() -> None:
    keys = IdempotencyKeys()
    first = keys.digest(b'{"prompt":"a kite"}')
    assert keys.lookup("xcompute", b"Bearer a", b"k1", first) == (None, True)
    keys.remember("xcompute", b"Bearer a", b"k1", first, "task_1")
    assert keys.lookup("xcompute", b"Bearer a", b"k1", first) == ("task_1", True)
    other = keys.digest(b'{"prompt":"a boat"}')
    assert keys.lookup("xcompute", b"Bearer a", b"k1", other) == ("task_1", False)


def test_keys_belong_to_one_upstream_and_one_account() -> None:
    keys = IdempotencyKeys()
    digest = keys.digest(b"{}")
    keys.remember("xcompute", b"Bearer a", b"k1", digest, "task_1")
    assert keys.lookup("xcompute", b"Bearer b", b"k1", digest) == (None, True)
    assert keys.lookup("mountsea", b"Bearer a", b"k1", digest) == (None, True)


def test_the_oldest_keys_are_forgotten_first_and_clear_forgets_all() -> None:
    keys = IdempotencyKeys(max_keys=2)
    digest = keys.digest(b"{}")
    for number in range(3):
        keys.remember("xcompute", None, f"k{number}".encode(), digest, f"task_{number}")
    assert len(keys) == 2
    assert keys.lookup("xcompute", None, b"k0", digest) == (None, True)
    assert keys.lookup("xcompute", None, b"k2", digest) == ("task_2", True)
    keys.clear()
    assert len(keys) == 0
