"""Comparing what two task instances left in XCom (a wait ended in the triggerer and its twin
resumed on a worker): their values with what must differ between them made equal."""

from __future__ import annotations

import json
import re
from typing import Any


def comparable(value: Any, generation_id: str, run_id: str) -> Any:
    """``value`` with what differs between two tasks or runs of the same DAG replaced: the
    job's id, the DAG run's id and the times (every ``*_at`` and ``*_at_utc`` field)."""
    text = json.dumps(value, sort_keys=True)
    text = text.replace(generation_id, "<id>").replace(run_id, "<run>")
    text = re.sub(r"run_id=[^&\"]+", "run_id=<run>", text)

    def scrub(item: Any) -> Any:
        if isinstance(item, dict):
            return {
                key: "<time>" if re.search(r"_at(_utc)?$", key) else scrub(sub)
                for key, sub in item.items()
            }
        if isinstance(item, list):
            return [scrub(sub) for sub in item]
        return item

    return scrub(json.loads(text))
