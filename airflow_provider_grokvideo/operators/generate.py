"""The operator that submits one Grok video generation: returns its id, or waits for it.

It knows no upstream: the connection's type (``grokvideo_xcompute``, ``grokvideo_mountsea``,
``grokvideo_xai``) picks the hook, so a DAG switches upstream by changing only ``conn_id``.

The operator is the Airflow face: its arguments, the request it builds from them
(``_upstream_call``, the one method the edit and extension operators override) and the wait.
The submit itself (the durable record, failover, the spend budget) is
:mod:`airflow_provider_grokvideo.tasks.submit`: every submit is recorded in Airflow 3.3's task
state store before it is sent, and its id as soon as the answer is read, so a retry never pays
for the same video twice.

This module is imported by DAG files on every parse: the hooks (and httpx) load only when the
task runs, and nothing here reads a connection or opens a socket at import or construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_grokvideo.compat import deferral_blocked
from airflow_provider_grokvideo.tasks.rendered import as_urls, blank_to_none
from airflow_provider_grokvideo.tasks.wait import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_MIN_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    GenerationWaitMixin,
    seconds,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow.sdk import Context

    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


class GrokVideoGenerateOperator(GenerationWaitMixin, BaseOperator):
    """Submit one video generation; return its id, or (``wait_for_completion=True``) the
    finished generation.

    :param conn_id: the connection of the upstream (templated); its type picks the hook.
    :param prompt: what the video shows (templated).
    :param duration: seconds of video, within what the upstream allows (templated).
    :param aspect_ratio: for example ``"16:9"`` (templated).
    :param resolution: ``"480p"`` or ``"720p"`` (``"1080p"`` on xAI's ``grok-imagine-video-1.5``;
        templated; spelled the upstream's way for you).
    :param image_urls: public http(s) URLs of the images to animate, or one URL (templated).
    :param reference_image_urls: reference-to-video (xAI only): up to 7 http(s) URLs or data
        URIs of images whose look the video keeps; needs a duration of at most 10 s and no
        ``image_urls`` (templated).
    :param model: the upstream's model; the connection's, then the upstream's, default when
        omitted (templated).
    :param max_cost_usd: refuse, before any request, a video whose estimated cost (see
        ``GrokVideoHook.estimate_cost``) is above this many US dollars, or that has no estimate
        (no published price and none in the connection's ``prices`` extra); templated.  The
        estimate is logged either way and kept in the task's ``grokvideo`` XCom record
        (``cost_estimate``).
    :param wait_for_completion: also wait until the generation ends and return it
        (``VideoGeneration.to_dict()``) instead of its id; failures map as in
        :class:`~airflow_provider_grokvideo.sensors.video.GrokVideoSensor`.
    :param deferrable: with ``wait_for_completion``, wait in the triggerer (default) rather
        than polling from the worker.
    :param end_from_trigger: with ``wait_for_completion`` and ``deferrable``, end the task in
        the triggerer when the generation ends, as the sensor's (see
        :class:`~airflow_provider_grokvideo.sensors.video.GrokVideoSensor`).
    :param poll_interval: as the sensor's (with ``wait_for_completion``).
    :param min_poll_interval: as the sensor's.
    :param max_poll_interval: as the sensor's.
    :param timeout: as the sensor's: seconds to wait before ``AirflowSensorTimeout``.
    :param fallback_conn_ids: connections to submit to, in order, when ``conn_id`` surely made
        no job: it never opened, refused the key, is out of balance or credits, rate-limited
        past its retries, or refuses the request by its limits (see docs/operators.md,
        "Failover").  Never after a 5xx, a timeout or a lost answer: the job may exist.  Each
        gets the request in its own dialect; ``model`` applies to the connections of
        ``conn_id``'s upstream, the others use their own default (templated).
    :param resubmit_unknown: submit even though an earlier try of this task instance died
        mid-submit (its job may exist upstream and be billed).  Off by default: such a try
        fails without retrying and says when the unknown submit was sent (templated; set it
        for one run, e.g. ``"{{ params.resubmit_unknown }}"``).

    As soon as the id is known, one XCom record (key ``grokvideo``, see
    :mod:`airflow_provider_grokvideo.tasks.catalog`) says what was asked, of which upstream,
    its id and its cost estimate; the return value is the id (the finished generation with
    ``wait_for_completion``).  See docs/outputs.md for every XCom key.

    The request is validated against the upstream's documented limits before anything is
    sent: bad input fails the task (without retries) naming the field, the value and what the
    upstream allows.  A submit whose answer was lost, or that the upstream refused, also fails
    without retries: submitting again could generate, and bill, the video twice.  Only what
    surely never reached the upstream (429, connection refused) is retried, by the hook and by
    the task's own ``retries``.

    On Airflow 3.3+ the submit is durable: a marker (when, which upstream and connection, a
    fingerprint of the request) is written to the task state store before sending and the id
    as soon as it is read.  A later try of the same task instance (map index) reuses a
    recorded id instead of submitting; after a marker without an id it fails without retrying
    unless ``resubmit_unknown`` is set.  So ``retries`` are safe on this task.

    xAI's newer fields, under its names (refused by name on xcompute and Mountsea, before any
    request; see docs/guide.md):

    :param reference_audios: ``grok-imagine-video-1.5`` only, at most 3: xAI voice ids
        (``"ara"``, or ``{"voice_id": "ara"}``) or clip URLs (``{"url": ...}``); templated.
    :param generate_audio: ``False`` for a silent video; sent only when set (templated).
    :param storage_options: keep the output in xAI's Files: ``{"filename", "expires_after",
        "public_url"}``; the result's ``file_output`` (file id, public URL, expiries) reaches
        the record, the page and the Asset event (templated).
    :param keyframes: ``[{"image": {"url": ...}, "timestamp_s": 2.0}]``, at most 4, each
        within the duration (templated).
    :param deliver_to: direct delivery (xAI): ``"s3://conn_id@bucket/key.mp4"`` or
        ``"gs://..."``; a PUT URL for that object is presigned with the storage's provider
        (extras ``[s3]``, ``[gcs]``) and sent as ``output.upload_url``.  Implies
        ``wait_for_completion``: when the job ends the object is checked (there, an MP4, the
        video asked for); a failed upload falls back to downloading the upstream's URL into
        the object, and says so.  The result's ``delivery`` holds ``uri``, ``size``, ``via``,
        ``fallback`` and ``delivered`` (see ``on_mismatch``); templated.
    :param on_mismatch: a delivered video whose duration, size, aspect ratio, codec or sound
        differs from the request: ``"warn"`` (default: logged, recorded) or ``"fail"``.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "prompt",
        "image_urls",
        "reference_image_urls",
        "duration",
        "aspect_ratio",
        "resolution",
        "model",
        "resubmit_unknown",
        "max_cost_usd",
        "fallback_conn_ids",
        "reference_audios",
        "generate_audio",
        "storage_options",
        "keyframes",
        "deliver_to",
    )
    # Its "Grok video" link is the API server's (tasks/links.py): nothing pushed for it.
    ui_color = "#f4e6d7"
    _estimate_is_own = True

    def __init__(
        self,
        *,
        conn_id: str,
        prompt: str,
        duration: int | float | str | None = None,
        aspect_ratio: str | None = None,
        resolution: str | None = None,
        image_urls: Sequence[str] | str | None = None,
        model: str | None = None,
        wait_for_completion: bool = False,
        deferrable: bool = True,
        poll_interval: float | timedelta = DEFAULT_POLL_INTERVAL,
        min_poll_interval: float | timedelta = DEFAULT_MIN_POLL_INTERVAL,
        max_poll_interval: float | timedelta = DEFAULT_MAX_POLL_INTERVAL,
        timeout: float | timedelta = DEFAULT_WAIT_TIMEOUT,
        resubmit_unknown: bool | str = False,
        max_cost_usd: float | str | Decimal | None = None,
        reference_image_urls: Sequence[str] | str | None = None,
        fallback_conn_ids: Sequence[str] | str | None = None,
        end_from_trigger: bool | None = None,
        reference_audios: Any = None,
        generate_audio: bool | str | None = None,
        storage_options: dict[str, Any] | str | None = None,
        keyframes: Any = None,
        deliver_to: str | None = None,
        on_mismatch: str = "warn",
        **kwargs: Any,
    ) -> None:
        from airflow_provider_grokvideo.media.check import check_on_mismatch

        super().__init__(**kwargs)
        self.reference_audios = reference_audios
        self.generate_audio = generate_audio
        self.storage_options = storage_options
        self.keyframes = keyframes
        self.deliver_to = deliver_to
        self.on_mismatch = check_on_mismatch(on_mismatch)
        if deliver_to:
            wait_for_completion = True  # the object is checked when the job ends
        self.conn_id = conn_id
        self.prompt = prompt
        self.duration = duration
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.image_urls = image_urls
        self.reference_image_urls = reference_image_urls
        self.model = model
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self._set_poll_settings(poll_interval, min_poll_interval, max_poll_interval)
        self.timeout = seconds(timeout, "timeout")
        self.resubmit_unknown = resubmit_unknown
        self._grokvideo_hook = None
        self.max_cost_usd = max_cost_usd
        self.fallback_conn_ids = fallback_conn_ids
        self.end_from_trigger = end_from_trigger
        #: The upstream of ``conn_id``, set by the submit once its hook is known.
        self._primary_upstream: str | None = None

    def execute(self, context: Context) -> Any:
        from airflow_provider_grokvideo.tasks.catalog import record_submission
        from airflow_provider_grokvideo.tasks.submit import submit_or_reattach

        submitted = submit_or_reattach(self, context)
        self._polled_conn_id = submitted.conn_id  # the connection that made it: waited on
        if submitted.cost_estimate is not None:
            self.cost_estimate = submitted.cost_estimate  # the one-task wait's result
        # Its XCom record (the id, the request, the estimate), at once: whatever happens next,
        # the id is visible.
        record_submission(
            context, self, submitted.hook, submitted.generation_id, reattached=submitted.reattached
        )
        generation_id = submitted.generation_id
        if not self.wait_for_completion:
            return generation_id
        if self.deferrable and not deferral_blocked(self.log):
            return self._wait_in_triggerer(generation_id, context)
        return self._poll_on_worker(generation_id, context)

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        """What this task submits, validated (``InvalidVideoRequest`` for bad input): the one
        method the edit and extension operators override."""
        from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

        request = {
            "duration": blank_to_none(self.duration),
            "aspect_ratio": blank_to_none(self.aspect_ratio),
            "resolution": blank_to_none(self.resolution),
            "image_urls": self._uploaded(hook, as_urls(self.image_urls), "image_urls"),
            "model": self._model_for(hook),
        }
        references = self._uploaded(
            hook, as_urls(self.reference_image_urls), "reference_image_urls"
        )
        if references:  # only then: a hook without the argument still submits generations
            request["reference_image_urls"] = references
        options = {
            "reference_audios": blank_to_none(self.reference_audios),
            "generate_audio": blank_to_none(self.generate_audio),
            "storage_options": blank_to_none(self.storage_options),
            "keyframes": self._keyframes(hook),
            "upload_url": self._upload_url(hook),
        }
        options = {name: value for name, value in options.items() if value is not None}
        return UpstreamCall(
            call=hook.build_request(self.prompt, **request, **options),
            estimate=lambda: hook.estimate_cost(self.prompt, **request),
            model=request["model"],
        )

    def _uploaded(self, hook: GrokVideoHook, values: list[str] | None, field: str) -> Any:
        """``values`` with each local file (a path, an ``ObjectStoragePath``) uploaded to the
        upstream and replaced by its reference (``hooks.uploads``); once per task."""
        from airflow_provider_grokvideo.hooks.uploads import is_local_input, upload_input

        if not values or not any(is_local_input(value) for value in values):
            return values
        cache: dict[tuple[str, str], str] = self.__dict__.setdefault("_uploads", {})
        out = []
        for value in values:
            if is_local_input(value):
                key = (str(hook.conn_id), str(value))
                if key not in cache:
                    kind = "video" if field == "video_url" else "image"
                    cache[key] = upload_input(hook, value, field=field, kind=kind)
                value = cache[key]
            out.append(value)
        return out

    def _keyframes(self, hook: GrokVideoHook) -> Any:
        """``keyframes`` as ``(image, timestamp_s)`` pairs, local images uploaded."""
        from airflow_provider_grokvideo.dialects.options import keyframe_pairs

        pairs = keyframe_pairs(blank_to_none(self.keyframes))
        if not pairs:
            return None
        images = self._uploaded(hook, [image for image, _ in pairs], "keyframes[].image")
        return [(image, moment) for image, (_, moment) in zip(images, pairs, strict=True)]

    def _upload_url(self, hook: GrokVideoHook) -> str | None:
        """With ``deliver_to``: a PUT URL presigned for that object (once per task), refused
        by name, before presigning, by an upstream that delivers nowhere."""
        from airflow_provider_grokvideo.tasks.deliver import presigned_upload_url

        if not blank_to_none(self.deliver_to):
            return None
        if not hook.dialect.offers_option("upload_url"):
            hook.dialect.refuse_option("upload_url", self.deliver_to)
        if getattr(self, "_presigned", None) is None:
            self._presigned = presigned_upload_url(self.deliver_to, self.timeout)
        return self._presigned

    def _after_success(self, result: dict[str, Any], context: Context | None) -> dict[str, Any]:
        """With ``deliver_to``: check the delivered object (or fall back), then record it;
        xAI's Files copy (``storage_options``) goes into the outlets' Asset events."""
        if context is None:
            return result
        from airflow_provider_grokvideo.tasks.deliver import annotate_assets, finish_delivery

        if blank_to_none(self.deliver_to):
            return finish_delivery(self, result, context)
        if result.get("file_output"):
            annotate_assets(self, context, result, None)
        return result

    def _model_for(self, hook: GrokVideoHook) -> str | None:
        """``model`` where ``hook`` is of the same upstream as ``conn_id``; a fallback of
        another upstream uses its own (its connection's ``model`` extra, else its default):
        model names differ between upstreams."""
        model = blank_to_none(self.model)
        if self._primary_upstream in (None, hook.dialect.name):
            return model
        return None
