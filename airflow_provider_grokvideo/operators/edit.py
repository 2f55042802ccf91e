"""The operator that edits an existing video: ``POST /v1/videos/edits`` on xAI.

It is the generate operator with another upstream call (see
:class:`~airflow_provider_grokvideo.tasks.upstream_call.UpstreamCall`): the durable submit
(:mod:`airflow_provider_grokvideo.tasks.submit`), the cost cap, the ``generation_id`` XCom, the
page's record and the one-task wait are the generate operator's.  Imported by DAG files:
nothing heavy at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.operators.generate import GrokVideoGenerateOperator
from airflow_provider_grokvideo.tasks.rendered import blank_to_none

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

#: What a source-video operator does not take (the output follows the source).
_NOT_FOR_SOURCE = (
    "aspect_ratio",
    "resolution",
    "image_urls",
    "reference_image_urls",
    "reference_audios",
    "generate_audio",
    "keyframes",
)


class GrokVideoEditOperator(GrokVideoGenerateOperator):
    """Submit an edit of an existing video; return its generation id, or
    (``wait_for_completion=True``) the finished generation, exactly as
    :class:`~airflow_provider_grokvideo.operators.generate.GrokVideoGenerateOperator`.

    :param conn_id: an upstream that offers edits (xAI; the others refuse before any request,
        naming xAI); templated.
    :param prompt: how to change the video (templated).
    :param video_url: the source: an earlier wait's XCom (``wait.output``: its video URL and
        length), a public http(s) URL, a ``data:video/mp4;base64,`` URI, or a stored copy (the
        download task's XCom, or one ``file://``/``s3://``... URI, sent as a data URI); see
        :mod:`airflow_provider_grokvideo.tasks.source_video`.  Templated, mappable.
    :param source_duration: the source's length in seconds, when ``video_url`` does not carry
        it; xAI edits at most 8.7 s, and the output keeps the source's length (templated).
    :param model: the upstream's model (templated).
    :param storage_options: as the generate operator's (xAI keeps the output in its Files).
    :param deliver_to: as the generate operator's (direct delivery into a bucket, checked).

    Every other argument (``wait_for_completion``, ``deferrable``, the poll settings,
    ``timeout``, ``max_cost_usd``, ``resubmit_unknown``) is the generate operator's.  The cost
    estimate is the source's length at the price per second, or xAI's 8.7 s cap where the length
    is not known, so that ``max_cost_usd`` is never too lenient.
    """

    operation = "edit"
    template_fields: Sequence[str] = (
        "conn_id",
        "prompt",
        "video_url",
        "source_duration",
        "model",
        "resubmit_unknown",
        "max_cost_usd",
        "storage_options",
        "deliver_to",
    )
    ui_color = "#efe2f7"

    def __init__(
        self,
        *,
        conn_id: str,
        prompt: str,
        video_url: Any,
        source_duration: int | float | str | None = None,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        refused = [name for name in (*_NOT_FOR_SOURCE, "duration") if name in kwargs]
        if refused:
            raise TypeError(
                f"{type(self).__name__} takes no {', '.join(refused)}: an edit's output follows "
                "its source (length, aspect ratio, resolution)"
            )
        super().__init__(conn_id=conn_id, prompt=prompt, model=model, **kwargs)
        self.video_url = video_url
        self.source_duration = source_duration

    def _source_arguments(self, hook: GrokVideoHook) -> dict[str, Any]:
        from airflow_provider_grokvideo.tasks.source_video import read_source

        dialect = hook.dialect
        if not dialect.offers(self.operation):
            dialect.refuse_feature(self.operation)  # before reading any stored copy
        from airflow_provider_grokvideo.hooks.uploads import is_local_input

        if dialect.file_inputs and is_local_input(self.video_url):
            # A stored copy goes to xAI's Files, not into the body as base64.
            (ref,) = self._uploaded(hook, [self.video_url], "video_url")
            length = blank_to_none(self.source_duration)
            return {"video_url": ref, "model": self._model_for(hook), "source_duration": length}
        url, length = read_source(
            self.video_url, blank_to_none(self.source_duration), upstream=dialect.name
        )
        return {"video_url": url, "model": self._model_for(hook), "source_duration": length}

    def _source_options(self, hook: GrokVideoHook) -> dict[str, Any]:
        """xAI's ``storage_options`` and the delivery URL, where given."""
        options = {
            "storage_options": blank_to_none(self.storage_options),
            "upload_url": self._upload_url(hook),
        }
        return {name: value for name, value in options.items() if value is not None}

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

        args = self._source_arguments(hook)
        return UpstreamCall(
            call=hook.build_source_request(
                self.operation, self.prompt, **args, **self._source_options(hook)
            ),
            estimate=lambda: hook.estimate_source_cost(self.operation, self.prompt, **args),
            model=args["model"],
        )
