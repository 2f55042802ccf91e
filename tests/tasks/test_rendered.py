"""What a templated argument rendered to (``tasks/rendered.py``): the text a Jinja template
gives back read as the value the operator was meant to get."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_grokvideo.tasks.rendered import (
    as_bool,
    as_conn_ids,
    as_urls,
    blank_to_none,
)


@pytest.mark.parametrize("blank", ["", "  ", "None", " None "])
def test_a_template_that_rendered_nothing_means_not_given(blank: str) -> None:
    assert blank_to_none(blank) is None
    assert as_urls(blank) is None
    assert as_conn_ids(blank) == []


@pytest.mark.parametrize("kept", [0, False, [], "none", "a"])
def test_anything_else_is_kept_as_it_is(kept: Any) -> None:
    assert blank_to_none(kept) is kept


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        (" Yes", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("no", False),
        ("", False),
        (True, True),
        (0, False),
    ],
)
def test_a_rendered_flag(value: Any, expected: bool) -> None:
    assert as_bool(value) is expected


def test_one_url_or_a_list() -> None:
    assert as_urls("https://a/1.png") == ["https://a/1.png"]
    assert as_urls(("https://a/1.png", "https://a/2.png")) == ["https://a/1.png", "https://a/2.png"]


def test_fallback_connections_from_a_list_or_a_comma_separated_template() -> None:
    assert as_conn_ids("first, second,,third ") == ["first", "second", "third"]
    assert as_conn_ids(["first", "second"]) == ["first", "second"]
