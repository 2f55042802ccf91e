"""The cost steps of a task: the estimate and the price cap before submitting, the estimate
carried to the sensor's result.

The Airflow side of :mod:`airflow_provider_grokvideo.pricing` (which stays pure): it reads the
operator's fields, logs and fails tasks.  The estimate is kept in the generate task's one XCom
record (``grokvideo``, :func:`~airflow_provider_grokvideo.tasks.catalog.record_submission`), not
in an XCom of its own.  The operators call one function each, so that their own modules stay
the operators.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.compat import AirflowFailException
from airflow_provider_grokvideo.exceptions import GrokVideoError
from airflow_provider_grokvideo.pricing import (
    CostCapError,
    CostEstimate,
    check_cost_cap,
    format_usd,
    parse_cap,
    read_estimate,
)

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


def estimate_before_submit(
    max_cost_usd: Any,
    hook: GrokVideoHook,
    upstream: UpstreamCall,
    log: logging.Logger | Any,
) -> CostEstimate | None:
    """Estimate a task's video, log it and refuse it over ``max_cost_usd`` (the operator's
    argument, as rendered); the caller keeps the estimate (in its XCom record).  Sends nothing
    to the upstream.  ``upstream`` is what the task submits (a generation, an edit or an
    extension), with its estimate.

    Raises :class:`~airflow.sdk.exceptions.AirflowFailException` (no retries: retrying cannot
    change the estimate) for a video over the cap, a cap that cannot be checked (no price
    known), a bad cap, bad input or a bad ``prices`` extra.
    """
    try:
        cap = parse_cap(max_cost_usd)
        model = upstream.model
        estimate = upstream.estimate()
        model = estimate.model if estimate else model or hook.settings.model
        check_cost_cap(
            estimate,
            cap,
            upstream=hook.dialect.name,
            model=model or hook.dialect.default_model,
            known_models=hook.dialect.models,
        )
    except (CostCapError, GrokVideoError, ValueError) as exc:
        raise AirflowFailException(str(exc)) from exc
    cap_text = f" (max_cost_usd {format_usd(cap)})" if cap is not None else ""
    if estimate is None:
        log.info("Estimated cost: unknown, no price is known for this model%s", cap_text)
        return None
    log.info("Estimated cost: %s%s", estimate.describe(), cap_text)
    return estimate


def with_estimate(generation: dict[str, Any], cost_estimate: Any) -> dict[str, Any]:
    """The sensor's result: the generation's billed cost when the upstream reported one, else
    the generate task's estimate (``cost_source`` says which); unchanged without either.
    ``cost_estimate`` is the estimate or the generate task's ``grokvideo`` record holding it."""
    from airflow_provider_grokvideo.models import VideoGeneration

    video = VideoGeneration.from_dict(generation)
    if video.cost_source == "billed":
        return video.to_dict()
    try:
        estimate = read_estimate(cost_estimate)
    except ValueError as exc:
        logging.getLogger(__name__).warning("cost_estimate ignored: %s", exc)
        estimate = None
    if estimate is None:
        return video.to_dict()
    return dataclasses.replace(
        video, cost_ticks=estimate.cost_ticks, cost_source="estimated"
    ).to_dict()
