"""The operator that submits one Grok video generation and returns its id.

It knows no upstream: the connection's type (``grokvideo_xcompute``, ``grokvideo_mountsea``,
``grokvideo_xai``) picks the hook, so a DAG switches upstream by changing only ``conn_id``.

This module is imported by DAG files on every parse: the hooks (and httpx) load only when the
task runs, and nothing here reads a connection or opens a socket at import or construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context


class GrokVideoGenerateOperator(BaseOperator):
    """Submit one video generation; the XCom return value is the upstream's generation id.

    :param conn_id: the connection of the upstream (templated); its type picks the hook.
    :param prompt: what the video shows (templated).
    :param duration: seconds of video, within what the upstream allows (templated).
    :param aspect_ratio: for example ``"16:9"`` (templated).
    :param resolution: ``"480p"`` or ``"720p"`` (templated; spelled the upstream's way for you).
    :param image_urls: public http(s) URLs of the images to animate, or one URL (templated).
    :param model: the upstream's model; the connection's, then the upstream's, default when
        omitted (templated).

    The request is validated against the upstream's documented limits before anything is
    sent: bad input fails the task (without retries) naming the field, the value and what the
    upstream allows.  A submit whose answer was lost, or that the upstream refused, also fails
    without retries: submitting again could generate, and bill, the video twice.  Only what
    surely never reached the upstream (429, connection refused) is retried, by the hook and by
    the task's own ``retries``.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "prompt",
        "image_urls",
        "duration",
        "aspect_ratio",
        "resolution",
        "model",
    )
    ui_color = "#f4e6d7"

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.prompt = prompt
        self.duration = duration
        self.aspect_ratio = aspect_ratio
        self.resolution = resolution
        self.image_urls = image_urls
        self.model = model

    def execute(self, context: Context) -> str:
        from airflow_provider_grokvideo.exceptions import InvalidVideoRequest
        from airflow_provider_grokvideo.hooks import get_video_hook
        from airflow_provider_grokvideo.hooks.base import is_safe_submit_retry

        hook = get_video_hook(self.conn_id)
        try:
            # submit_video validates before sending anything: bad input costs no request.
            generation_id = hook.submit_video(
                self.prompt,
                duration=_blank_to_none(self.duration),
                aspect_ratio=_blank_to_none(self.aspect_ratio),
                resolution=_blank_to_none(self.resolution),
                image_urls=_as_urls(self.image_urls),
                model=_blank_to_none(self.model),
            )
        except InvalidVideoRequest as exc:
            raise AirflowFailException(str(exc)) from exc
        except Exception as exc:
            # The hook's own rule: only what surely never reached the upstream may be retried.
            if is_safe_submit_retry(exc):
                raise
            raise AirflowFailException(f"{exc} (not retried: {_why_not_retried(exc)})") from exc
        self.log.info("Submitted generation %s through connection %s", generation_id, self.conn_id)
        from airflow_provider_grokvideo.catalog import record_submission

        record_submission(context, self, hook, generation_id)  # for the "Grok videos" page
        return generation_id


def _blank_to_none(value: Any) -> Any:
    """A template rendering to ``""`` or ``"None"`` means "not given"."""
    if isinstance(value, str) and value.strip() in ("", "None"):
        return None
    return value


def _as_urls(value: Sequence[str] | str | None) -> list[str] | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(url) for url in value]


def _why_not_retried(error: BaseException) -> str:
    """The words for a submit failure the hook's rule does not retry (the rule itself is
    ``is_safe_submit_retry``)."""
    from airflow_provider_grokvideo.exceptions import SubmitOutcomeUnknown, UpstreamHTTPError

    if isinstance(error, SubmitOutcomeUnknown) or (
        isinstance(error, UpstreamHTTPError) and error.status_code >= 500
    ):
        return "the job may exist upstream; submitting again could bill it twice"
    if isinstance(error, UpstreamHTTPError):
        return "the upstream refused the request; fix it, then clear the task"
    return "fix the connection or the request, then clear the task"
