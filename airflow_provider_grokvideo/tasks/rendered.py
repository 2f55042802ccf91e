"""What an operator's templated argument rendered to, read the one way every operator reads it.

A Jinja template renders to text: ``""`` or ``"None"`` for "not given", ``"true"`` for a flag,
``"a, b"`` for a list.  The generate, edit and extension operators and the durable submit read
their arguments through these, so that a rendered value means the same wherever it is used.

Pure: no import (DAG files import it through the operators on every parse).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def blank_to_none(value: Any) -> Any:
    """A template rendering to ``""`` or ``"None"`` means "not given"."""
    if isinstance(value, str) and value.strip() in ("", "None"):
        return None
    return value


def as_bool(value: Any) -> bool:
    """``True``, or a template that rendered to true/yes/1/on."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def as_urls(value: Sequence[str] | str | None) -> list[str] | None:
    """One URL or a list of them as a list; ``None`` when not given."""
    value = blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(url) for url in value]


def as_conn_ids(value: Sequence[str] | str | None) -> list[str]:
    """``fallback_conn_ids`` as a list: one id, a list, or a comma-separated template."""
    value = blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(conn_id) for conn_id in value]
