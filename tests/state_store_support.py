"""A dict with the interface of Airflow's task state store accessor, for operator calls made
outside a running task (``execute(context)`` in a test), where the real accessor cannot work:
it talks to the task's supervisor.  ``tests/integration/test_durable_submit.py`` uses the real
one."""

from __future__ import annotations

from typing import Any


class DictStore:
    """``get``/``set``/``delete`` of ``TaskStateStoreAccessor`` over a dict of JSON values."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")  # as the real accessor
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)
