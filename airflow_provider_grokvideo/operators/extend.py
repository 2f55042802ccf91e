"""The operator that extends an existing video: ``POST /v1/videos/extensions`` on xAI.

The edit operator with the extension's call and its ``duration`` (the seconds added); chain it
to make a long video from a short one (``generate 10 s -> extend 10 s -> extend 10 s``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_grokvideo.operators.edit import _NOT_FOR_SOURCE, GrokVideoEditOperator
from airflow_provider_grokvideo.tasks.rendered import blank_to_none

if TYPE_CHECKING:
    from airflow_provider_grokvideo.hooks.base import GrokVideoHook
    from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall


class GrokVideoExtendOperator(GrokVideoEditOperator):
    """Submit an extension of an existing video (what happens next, for ``duration`` more
    seconds); return its generation id, or (``wait_for_completion=True``) the finished one.

    :param conn_id: an upstream that offers extensions (xAI); templated.
    :param prompt: what happens next (templated).
    :param video_url: the source, as for
        :class:`~airflow_provider_grokvideo.operators.edit.GrokVideoEditOperator` (an earlier
        wait's XCom chains extensions: each one's output is the next one's source).
    :param duration: seconds added, 2..10 on xAI (its default 6 when None); templated.  The cost
        estimate is these seconds at the price per second.
    :param source_duration: the source's length in seconds when ``video_url`` does not carry
        it (xAI extends sources of 2 to 30 s by its schema, 15 by its docs); templated.
    :param model: the upstream's model (templated).

    The output is the source followed by the added seconds; its length is reported in the
    finished generation's ``duration`` (xAI's ``video.duration``).
    """

    operation = "extend"
    template_fields: Sequence[str] = (*GrokVideoEditOperator.template_fields, "duration")
    ui_color = "#e2f0f7"

    def __init__(
        self,
        *,
        conn_id: str,
        prompt: str,
        video_url: Any,
        duration: int | float | str | None = None,
        source_duration: int | float | str | None = None,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        refused = [name for name in _NOT_FOR_SOURCE if name in kwargs]
        if refused:
            raise TypeError(
                f"{type(self).__name__} takes no {', '.join(refused)}: an extension's output "
                "follows its source (aspect ratio, resolution)"
            )
        super().__init__(
            conn_id=conn_id,
            prompt=prompt,
            video_url=video_url,
            source_duration=source_duration,
            model=model,
            **kwargs,
        )
        self.duration = duration

    def _upstream_call(self, hook: GrokVideoHook) -> UpstreamCall:
        from airflow_provider_grokvideo.tasks.upstream_call import UpstreamCall

        args = self._source_arguments(hook)
        args["duration"] = blank_to_none(self.duration)
        return UpstreamCall(
            call=hook.build_source_request(
                self.operation, self.prompt, **args, **self._source_options(hook)
            ),
            estimate=lambda: hook.estimate_source_cost(self.operation, self.prompt, **args),
            model=args["model"],
        )
