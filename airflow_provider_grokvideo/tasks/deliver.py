"""The generate task's direct delivery (``deliver_to``): the presigned PUT URL sent as xAI's
``output.upload_url``, and, when the job ends, the object checked and recorded.

The presigned URL is a credential of the bucket: it goes into the request body only, never
into a log, the record, XCom or an exception (the submit's fingerprint is a hash).
"""

from __future__ import annotations

from typing import Any, Protocol

from airflow_provider_grokvideo.tasks.rendered import blank_to_none


class DeliveringTask(Protocol):
    """What delivery reads of the generate operator (typed here, not imported: the operator
    imports this module)."""

    deliver_to: str | None
    duration: Any
    model: Any
    aspect_ratio: Any
    resolution: Any
    generate_audio: Any
    reference_audios: Any
    log: Any


#: How long the upload URL outlives the task's own timeout (the job may end at its end).
URL_MARGIN_SECONDS = 3600


def presigned_upload_url(deliver_to: str, timeout: float) -> str:
    """A PUT URL for ``deliver_to``'s object, valid past the wait's ``timeout``."""
    from airflow_provider_grokvideo.delivery.buckets import Destination, bucket_for

    destination = Destination.parse(deliver_to)
    return bucket_for(destination).presign_put(int(timeout) + URL_MARGIN_SECONDS)


def expected_of(operator: DeliveringTask, reported: Any = None) -> Any:
    """What the task asked for, as the delivery check compares it (``media.check.Expected``):
    the upstream's documented defaults fill what the request left out."""
    from airflow_provider_grokvideo.dialects.xai import DIALECT as XAI
    from airflow_provider_grokvideo.media.check import Expected, expected_audio

    if getattr(operator, "operation", None) in ("edit", "extend"):
        # The output follows its source: only what xAI says it made is known (its length).
        return Expected(duration=blank_to_none(reported))
    duration = blank_to_none(operator.duration)
    limits = XAI.model_limits(blank_to_none(operator.model))
    if duration is None and limits is not None:
        duration = limits.default_duration
    return Expected(
        duration=float(duration) if duration is not None else None,
        aspect_ratio=blank_to_none(operator.aspect_ratio) or "16:9",  # xAI's documented default
        resolution=blank_to_none(operator.resolution),
        audio=expected_audio(
            blank_to_none(operator.generate_audio), blank_to_none(operator.reference_audios)
        ),
    )


def finish_delivery(
    operator: DeliveringTask, result: dict[str, Any], context: Any
) -> dict[str, Any]:
    """Check the delivered object (falling back to a download), record it for the page and
    the Asset events, log it; fail on a mismatch when ``on_mismatch="fail"``."""
    from airflow_provider_grokvideo.compat import AirflowFailException
    from airflow_provider_grokvideo.delivery.buckets import Destination, bucket_for
    from airflow_provider_grokvideo.delivery.check import DeliveryFailed, settle
    from airflow_provider_grokvideo.tasks.catalog import record_delivery

    destination = Destination.parse(operator.deliver_to)
    try:
        delivery = settle(
            destination,
            bucket_for(destination),
            result,
            expected_of(operator, result.get("duration")),
            logger=operator.log,
        )
    except DeliveryFailed as exc:
        raise AirflowFailException(str(exc)) from None
    result = {**result, "delivery": delivery}
    delivered = delivery["delivered"]
    operator.log.info(
        "Delivered %s (%d bytes, %s): %s",
        delivery["uri"],
        delivery["size"],
        "through the upload URL" if delivery["via"] == "upload_url" else "by download",
        describe(delivered),
    )
    asked = {
        "prompt": str(operator.prompt),
        "upstream": "xai",
        "conn_id": result.get("conn_id") or operator.conn_id,
        "model": blank_to_none(operator.model),
        "duration": blank_to_none(operator.duration),
        "aspect_ratio": blank_to_none(operator.aspect_ratio),
        "resolution": blank_to_none(operator.resolution),
        "cost_estimate": operator.cost_estimate
        if isinstance(operator.cost_estimate, dict)
        else None,
    }
    record_delivery(context, result, delivery, asked)
    annotate_assets(operator, context, result, delivery)
    if not delivered["matches"]:
        message = f"The delivered video {delivery['uri']} is not what was asked: " + "; ".join(
            delivered["mismatches"]
        )
        if operator.on_mismatch == "fail":
            raise AirflowFailException(message)
        operator.log.warning("%s", message)
    return result


def describe(delivered: dict[str, Any]) -> str:
    """One line: what the file is, and whether it matches."""
    what = (
        f"{delivered.get('width')}x{delivered.get('height')}, {delivered.get('duration')} s, "
        f"{delivered.get('codec')}, {'with' if delivered.get('audio') else 'no'} sound"
    )
    return f"{what}: matches the request" if delivered.get("matches") else f"{what}: MISMATCH"


def annotate_assets(
    operator: Any, context: Any, result: dict[str, Any], delivery: dict[str, Any] | None
) -> None:
    """The delivered object and its check (where delivered), and xAI's Files copy, in each
    outlet Asset's event; ``result`` is the wait's (``WaitResult.to_xcom()``)."""
    from airflow.sdk import Asset

    from airflow_provider_grokvideo.models import WaitResult

    assets = [outlet for outlet in (operator.outlets or []) if isinstance(outlet, Asset)]
    if not assets:
        return
    finished = WaitResult.from_xcom(result)
    extra: dict[str, Any] = {
        "generation_id": finished.generation_id,
        # The connection that made the video, as the download's event names it.
        "conn_id": finished.conn_id,
        "file_output": finished.file_output,
        "cost_usd": finished.cost_usd_text,
        "cost_source": finished.cost_source,
    }
    if delivery is not None:
        extra.update(
            videos=[delivery["uri"]],
            via=delivery["via"],
            fallback=delivery.get("fallback"),
            delivered=delivery["delivered"],
        )
    for asset in assets:
        context["outlet_events"][asset].extra.update(extra)
