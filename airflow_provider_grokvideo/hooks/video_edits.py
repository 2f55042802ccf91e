"""Edits and extensions of an existing video, for the hooks of the upstreams that offer them.

A mixin of :class:`~airflow_provider_grokvideo.hooks.base.GrokVideoHook` (which owns the I/O it
uses: the connection's settings and ``submit_call``): the dialect validates and
builds the call (``Dialect.source_call``), and an upstream that documents no edits or
extensions refuses them there, before any request, naming the upstream that does.  The result
is a generation id, polled like any generation.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.dialects.options import media_options
from airflow_provider_grokvideo.models import SourceVideoRequest
from airflow_provider_grokvideo.pricing import CostEstimate, estimate_cost

if TYPE_CHECKING:
    from airflow_provider_grokvideo.dialects.base import HttpCall


class SourceVideoMixin:
    """``submit_video_edit``, ``submit_video_extension`` and what they are made of."""

    if TYPE_CHECKING:  # provided by GrokVideoHook
        dialect: Any
        settings: Any
        log: Any
        _price_overrides: Any

        def submit_call(self, call: HttpCall, *, idempotency_key: str | None = None) -> str: ...

        def _warn_if_unknown_model(self, model: str | None) -> None: ...

    def build_source_request(
        self,
        operation: str,
        prompt: str,
        *,
        video_url: str,
        duration: int | float | str | None = None,
        model: str | None = None,
        source_duration: int | float | str | None = None,
        storage_options: Any = None,
        upload_url: str | None = None,
    ) -> HttpCall:
        """Validate an ``"edit"`` or ``"extend"`` of the video at ``video_url`` and return its
        submit call; an upstream that offers none refuses it (``InvalidVideoRequest``, naming
        the upstream that does), as do a bad source, duration or model.  Sends nothing.
        ``storage_options`` and ``upload_url``: as a generation's (xAI)."""
        request = dataclasses.replace(
            self._source_request(operation, prompt, video_url, duration, model, source_duration),
            options=media_options(storage_options=storage_options, upload_url=upload_url),
        )
        call = self.dialect.source_call(request, relaxed=self.settings.relax_limits)
        self._warn_if_unknown_model(request.model)
        return call

    def submit_video_edit(
        self,
        prompt: str,
        *,
        video_url: str,
        model: str | None = None,
        source_duration: int | float | str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """Validate, then submit an edit of the video at ``video_url`` (a public http(s) URL,
        an earlier generation's for example, or a ``data:video/mp4;base64,`` URI); return the
        generation id, polled like any generation.  ``source_duration``: the source's length
        in seconds when known (checked against the upstream's limit on an edit's input)."""
        call = self.build_source_request(
            "edit",
            prompt,
            video_url=video_url,
            model=model,
            source_duration=source_duration,
            **options,
        )
        return self.submit_call(call, idempotency_key=idempotency_key)

    def submit_video_extension(
        self,
        prompt: str,
        *,
        video_url: str,
        duration: int | float | str | None = None,
        model: str | None = None,
        source_duration: int | float | str | None = None,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """Validate, then submit an extension of the video at ``video_url`` by ``duration``
        seconds (the upstream's default when None); ``prompt`` says what happens next.
        Returns the generation id, polled like any generation."""
        call = self.build_source_request(
            "extend",
            prompt,
            video_url=video_url,
            duration=duration,
            model=model,
            source_duration=source_duration,
            **options,
        )
        return self.submit_call(call, idempotency_key=idempotency_key)

    def estimate_source_cost(
        self,
        operation: str,
        prompt: str = "(cost estimate)",
        *,
        video_url: str,
        duration: int | float | str | None = None,
        model: str | None = None,
        source_duration: int | float | str | None = None,
    ) -> CostEstimate | None:
        """What an edit or extension should cost; None where no price is known.  Sends nothing.

        An extension is priced by the seconds it adds; an edit by its source's length when
        known, else at the longest source the upstream edits (xAI: 8.7 s), so that a
        ``max_cost_usd`` cap is never too lenient.  The output's resolution follows the source
        (not known here): priced at the dearest.
        """
        request = self.dialect.validate_source(
            self._source_request(operation, prompt, video_url, duration, model, source_duration),
            relaxed=self.settings.relax_limits,
        )
        lim = self.dialect.source_limits
        assert request.model is not None and lim is not None  # validate_source() checked both
        notes: list[str] = []
        seconds: int | float
        if request.operation == "extend":
            seconds = request.duration or lim.extend_default_duration
            if request.duration is None:
                notes.append(f"seconds added not given: {self.dialect.name}'s default of {seconds}")
            notes.append("an extension is priced by the seconds it adds")
        elif request.source_duration is not None:
            seconds = request.source_duration
            notes.append("an edit keeps its source's length")
        else:
            seconds = lim.edit_max_source_seconds
            notes.append(
                f"an edit keeps its source's length, not known here: priced at the longest "
                f"source {self.dialect.name} edits, {seconds:g} s"
            )
        return estimate_cost(
            self.dialect.name,
            request.model,
            seconds,
            None,
            default_duration=None,
            default_resolution=None,
            overrides=self._price_overrides,
            notes=notes,
        )

    def _source_request(
        self,
        operation: str,
        prompt: str,
        video_url: str,
        duration: int | float | str | None,
        model: str | None,
        source_duration: int | float | str | None,
    ) -> SourceVideoRequest:
        return SourceVideoRequest(
            operation=operation,  # type: ignore[arg-type]  # checked by the dialect
            prompt=prompt,
            video_url=video_url,
            model=model or self.settings.model,
            duration=duration,  # type: ignore[arg-type]  # numeric text is read by the dialect
            source_duration=source_duration,  # type: ignore[arg-type]
        )
