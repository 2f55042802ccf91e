"""A generation's statuses, as every upstream's answer is normalised to them.

Apart from ``models.py`` because DAG files import the operators and the sensor on every parse:
these names are all they need of it, and ``models`` (its dataclasses, the price table it
reads) costs a parse about 15 ms (``benchmarks/import_time.py``).
"""

from __future__ import annotations

from typing import Literal

Status = Literal["queued", "running", "succeeded", "failed", "cancelled", "expired"]
STATUSES: tuple[Status, ...] = ("queued", "running", "succeeded", "failed", "cancelled", "expired")
#: Statuses after which the upstream will never change its answer.
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "expired"})
#: The terminal statuses of a generation that made no video.
FAILED_STATUSES: tuple[str, ...] = ("failed", "cancelled", "expired")
