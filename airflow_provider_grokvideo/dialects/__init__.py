"""One pure module per upstream API: request building, validation limits, answer parsing."""

from __future__ import annotations

from airflow_provider_grokvideo.dialects.base import Dialect, HttpCall, Limits, ParsedStatus

__all__ = ["Dialect", "HttpCall", "Limits", "ParsedStatus"]
