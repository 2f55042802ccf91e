"""xAI's Batch API: the wire format of batches of video generations, edits and extensions.

Pure like the other dialects (no I/O, no Airflow import).  UPSTREAMS.md, "xAI's Batch API":

* ``POST /v1/batches`` ``{"name"}`` -> a Batch; ``GET /v1/batches/{id}`` -> a Batch;
  ``POST /v1/batches/{id}:cancel`` -> a Batch;
* ``POST /v1/batches/{id}/requests`` ``{"batch_requests": [...]}`` -> empty body;
* ``GET /v1/batches/{id}/requests?limit=&pagination_token=`` -> ``{"batch_request_metadata"}``;
* ``GET /v1/batches/{id}/results?limit=&pagination_token=`` -> ``{"results"}`` (no order).

A batch request's body is the body of the interactive call: it is built by the xAI dialect
(:data:`~airflow_provider_grokvideo.dialects.xai.DIALECT`), with the same validation, so a
request refused interactively is refused here too, before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_grokvideo.dialects.base import (
    HttpCall,
    as_epoch,
    path_segment,
)
from airflow_provider_grokvideo.dialects.options import media_options
from airflow_provider_grokvideo.dialects.xai import DIALECT as XAI
from airflow_provider_grokvideo.dialects.xai import billed_ticks
from airflow_provider_grokvideo.exceptions import InvalidVideoRequest, UnexpectedResponse
from airflow_provider_grokvideo.models import (
    SourceVideoRequest,
    VideoGeneration,
    VideoRequest,
    as_urls,
)

BATCHES_PATH = "/v1/batches"
#: xAI's limit on one add-requests call ("an add-requests call <= 25 MB", older guide).
MAX_ADD_BYTES = 25 * 1024 * 1024
#: xAI's limit on add-requests calls: 100 per 30 s per team (older guide).  The hook spaces
#: them evenly (a budget of one call at a time, ``1 / rate`` apart, as the key's own pacer):
#: at most 99 calls in any 30 s, and never a burst that a second task's adds would push over.
MAX_ADD_CALLS = 100
ADD_WINDOW_SECONDS = 30.0
ADD_CALLS_PER_SECOND = MAX_ADD_CALLS / ADD_WINDOW_SECONDS
#: xAI's limit on one page of request metadata (``limit <= 1000``).
MAX_PAGE = 1000
#: The states of a request in the metadata list; anything else is read as pending.
REQUEST_STATES = ("pending", "succeeded", "failed", "cancelled")
#: The neutral parameters a batch request takes: those of ``submit_video`` and, for an edit or
#: an extension, ``operation``/``video_url``/``source_duration`` as the source operators take.
PARAMETERS = (
    "prompt",
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "image_urls",
    "reference_image_urls",
    "operation",
    "video_url",
    "source_duration",
    # xAI's newer fields (dialects/options.py); storage_options on edits and extensions too.
    "reference_audios",
    "generate_audio",
    "storage_options",
    "keyframes",
)


@dataclass(frozen=True)
class BatchRequest:
    """One validated request of a batch, ready to send."""

    batch_request_id: str
    #: ``{"video_generation": {...}}`` or ``{"video_extension": {...}}``.
    batch_request: dict[str, Any]
    #: The validated neutral request (for the cost estimate).
    request: VideoRequest | SourceVideoRequest

    def to_wire(self) -> dict[str, Any]:
        return {"batch_request_id": self.batch_request_id, "batch_request": self.batch_request}


@dataclass(frozen=True)
class Batch:
    """A Batch as xAI last described it; ``now`` decides whether it is past its expiry."""

    batch_id: str
    name: str | None = None
    num_requests: int = 0
    num_pending: int = 0
    num_success: int = 0
    num_error: int = 0
    num_cancelled: int = 0
    create_time: float | None = None
    expire_time: float | None = None
    cancel_time: float | None = None
    #: Why xAI cancelled the batch itself (xAI's SDK counts it as ended, like cancel_time).
    cancel_by_xai_message: str | None = None

    @property
    def num_finished(self) -> int:
        """Requests with a result (succeeded, failed or cancelled)."""
        return self.num_success + self.num_error + self.num_cancelled

    def is_done(self, now: float) -> bool:
        """No status word exists: done when nothing is pending (and something was added),
        when cancelled, or past ``expire_time``."""
        if self.cancel_time is not None or self.cancel_by_xai_message is not None:
            return True
        if self.expire_time is not None and now >= self.expire_time:
            return True
        return self.num_requests > 0 and self.num_pending == 0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class RequestMetadata:
    batch_request_id: str
    state: str
    model: str | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """One result, in the normalized view: the generation's id is its ``batch_request_id``."""

    batch_request_id: str
    generation: VideoGeneration


@dataclass(frozen=True)
class Page:
    """One page of a paginated list, and the token of the next (None on the last page)."""

    items: list[Any] = field(default_factory=list)
    next_token: str | None = None


# -- waiting --------------------------------------------------------------------------------

#: Seconds between two counter reads by default: a minute leaves 59 of the 60 minutes a URL
#: lives to store the results.
DEFAULT_BATCH_POLL_INTERVAL = 60.0


def batch_event(batch: Batch, known: int, now: float, deadline: float) -> dict[str, Any] | None:
    """The event to fire after a read of ``batch`` at ``now``, or None to keep waiting."""
    if batch.is_done(now):
        return {"status": "done", "batch": batch.to_dict(), "message": "the batch is done"}
    if batch.num_success + batch.num_error > known:
        return {
            "status": "results",
            "batch": batch.to_dict(),
            "message": f"{batch.num_success + batch.num_error - known} new result(s)",
        }
    if now >= deadline:
        return {"status": "timeout", "batch": batch.to_dict(), "message": "timed out"}
    return None


# -- requests ---------------------------------------------------------------------------------


def build_request(
    params: Mapping[str, Any],
    batch_request_id: str,
    *,
    index: int | None = None,
    default_model: str | None = None,
    relaxed: bool = False,
) -> BatchRequest:
    """Validate one request's neutral parameters as the interactive submit does and build its
    batch request.  A refusal names the request's ``index`` (as ``requests[3].duration``)."""
    try:
        return _build(params, batch_request_id, default_model, relaxed)
    except InvalidVideoRequest as exc:
        if index is None:
            raise
        raise InvalidVideoRequest(
            exc.upstream,
            f"requests[{index}].{exc.field}",
            exc.value,
            exc.allowed,
            model=exc.model,
        ) from None


def _build(
    params: Mapping[str, Any], batch_request_id: str, default_model: str | None, relaxed: bool
) -> BatchRequest:
    if not isinstance(params, Mapping):
        raise InvalidVideoRequest(XAI.name, "request", params, "a dict of parameters")
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise InvalidVideoRequest(
            XAI.name, unknown[0], params[unknown[0]], f"one of {', '.join(PARAMETERS)}"
        )
    model = params.get("model") or default_model
    operation = params.get("operation")
    if operation is not None or params.get("video_url") is not None:
        source = XAI.validate_source(
            SourceVideoRequest(
                operation=operation or "edit",
                prompt=params.get("prompt"),  # type: ignore[arg-type]  # validated
                video_url=params.get("video_url"),  # type: ignore[arg-type]
                model=model,
                duration=params.get("duration"),
                source_duration=params.get("source_duration"),
                options=media_options(storage_options=params.get("storage_options")),
            ),
            relaxed=relaxed,
        )
        body = XAI.source_body(source)
        # An edit is a video_generation carrying a ``video``; an extension its own kind.
        kind = "video_extension" if source.operation == "extend" else "video_generation"
        return BatchRequest(batch_request_id, {kind: body}, source)
    request = XAI.validate(
        VideoRequest(
            prompt=params.get("prompt"),  # type: ignore[arg-type]  # validated
            model=model,
            duration=params.get("duration"),
            aspect_ratio=params.get("aspect_ratio"),
            resolution=params.get("resolution"),
            image_urls=as_urls(params.get("image_urls")),
            reference_image_urls=as_urls(params.get("reference_image_urls")),
            options=media_options(
                reference_audios=params.get("reference_audios"),
                generate_audio=params.get("generate_audio"),
                storage_options=params.get("storage_options"),
                keyframes=params.get("keyframes"),
            ),
        ),
        relaxed=relaxed,
    )
    return BatchRequest(batch_request_id, {"video_generation": XAI.submit_body(request)}, request)


def create_call(name: str) -> HttpCall:
    return HttpCall("POST", BATCHES_PATH, json={"name": name})


def get_call(batch_id: str) -> HttpCall:
    return HttpCall("GET", f"{BATCHES_PATH}/{path_segment(_id(batch_id))}")


def cancel_call(batch_id: str) -> HttpCall:
    return HttpCall("POST", f"{BATCHES_PATH}/{path_segment(_id(batch_id))}:cancel")


def add_calls(
    batch_id: str, requests: Sequence[BatchRequest], *, max_bytes: int = MAX_ADD_BYTES
) -> list[HttpCall]:
    """The add-requests calls for ``requests``, each body within ``max_bytes`` (xAI's 25 MB)."""
    path = f"{BATCHES_PATH}/{path_segment(_id(batch_id))}/requests"
    calls: list[HttpCall] = []
    chunk: list[dict[str, Any]] = []
    size = len(b'{"batch_requests":[]}')
    for request in requests:
        wire = request.to_wire()
        item = len(json.dumps(wire, separators=(",", ":")).encode()) + 1  # and its comma
        if item + len(b'{"batch_requests":[]}') > max_bytes:
            raise InvalidVideoRequest(
                XAI.name,
                "batch_request_id",
                request.batch_request_id,
                f"a request of at most {max_bytes} bytes in JSON (a data URI this large "
                "belongs in a URL)",
            )
        if chunk and size + item > max_bytes:
            calls.append(HttpCall("POST", path, json={"batch_requests": chunk}))
            chunk, size = [], len(b'{"batch_requests":[]}')
        chunk.append(wire)
        size += item
    if chunk:
        calls.append(HttpCall("POST", path, json={"batch_requests": chunk}))
    return calls


def list_call(token: str | None = None, limit: int = 100) -> HttpCall:
    return HttpCall("GET", BATCHES_PATH, params=page_params(limit, token))


def parse_batches_page(body: Any) -> Page:
    """``{"batches": [...], "pagination_token"}``: items are :class:`Batch`."""
    if not isinstance(body, Mapping) or not isinstance(body.get("batches"), list):
        raise _unexpected("a batch list carries no batches", body)
    return Page([parse_batch(item) for item in body["batches"]], _token(body))


def page_params(limit: int, token: str | None) -> dict[str, str]:
    params = {"limit": str(max(1, min(limit, MAX_PAGE)))}
    if token:
        params["pagination_token"] = token
    return params


def requests_call(batch_id: str, token: str | None = None, limit: int = MAX_PAGE) -> HttpCall:
    path = f"{BATCHES_PATH}/{path_segment(_id(batch_id))}/requests"
    return HttpCall("GET", path, params=page_params(limit, token))


def results_call(batch_id: str, token: str | None = None, limit: int = 100) -> HttpCall:
    path = f"{BATCHES_PATH}/{path_segment(_id(batch_id))}/results"
    return HttpCall("GET", path, params=page_params(limit, token))


def _id(batch_id: object) -> str:
    if not isinstance(batch_id, str) or not batch_id.strip():
        raise InvalidVideoRequest(XAI.name, "batch_id", batch_id, "a non-empty string")
    return batch_id.strip()


# -- answers ----------------------------------------------------------------------------------


def _unexpected(what: str, body: Any) -> UnexpectedResponse:
    return XAI.unexpected(f"batch: {what}", body)


def parse_batch(body: Any) -> Batch:
    """A Batch: ``{"batch_id", "name", "create_time", "expire_time", "cancel_time",
    "state": {"num_requests", "num_pending", "num_success", "num_error", "num_cancelled"}}``."""
    if not isinstance(body, Mapping):
        raise _unexpected("a Batch is not a JSON object", body)
    batch_id = body.get("batch_id")
    if not isinstance(batch_id, str) or not batch_id:
        raise _unexpected("a Batch carries no batch_id", body)
    state = body.get("state") if isinstance(body.get("state"), Mapping) else {}
    name = body.get("name")
    return Batch(
        batch_id=batch_id,
        name=name if isinstance(name, str) else None,
        num_requests=_count(state, "num_requests"),
        num_pending=_count(state, "num_pending"),
        num_success=_count(state, "num_success"),
        num_error=_count(state, "num_error"),
        num_cancelled=_count(state, "num_cancelled"),
        create_time=as_epoch(body.get("create_time")),
        expire_time=as_epoch(body.get("expire_time")),
        cancel_time=as_epoch(body.get("cancel_time")),
        cancel_by_xai_message=_text(body.get("cancel_by_xai_message")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(state: Mapping[str, Any], name: str) -> int:
    # Protobuf's JSON omits zeros and writes int64 as text: read both.
    value = state.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _token(body: Mapping[str, Any]) -> str | None:
    token = body.get("pagination_token")
    return token if isinstance(token, str) and token else None


def parse_requests_page(body: Any) -> Page:
    """``{"batch_request_metadata": [{batch_request_id, endpoint, model, state, ...}],
    "pagination_token"}``: items are :class:`RequestMetadata`."""
    if not isinstance(body, Mapping):
        raise _unexpected("a request list is not a JSON object", body)
    items = []
    for item in body.get("batch_request_metadata") or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("batch_request_id"), str):
            continue  # a request added without an id: not one of ours
        state = str(item.get("state") or "pending").lower()
        state = state.removeprefix("batch_request_state_")  # a protobuf enum's spelling
        items.append(
            RequestMetadata(
                batch_request_id=item["batch_request_id"],
                state=state if state in REQUEST_STATES else "pending",
                model=item.get("model") if isinstance(item.get("model"), str) else None,
                endpoint=item.get("endpoint") if isinstance(item.get("endpoint"), str) else None,
            )
        )
    return Page(items, _token(body))


def parse_results_page(body: Any) -> Page:
    """``{"results": [...], "pagination_token"}``: items are :class:`BatchResult`, in the
    order xAI gave them (none is guaranteed)."""
    if not isinstance(body, Mapping):
        raise _unexpected("a result list is not a JSON object", body)
    items = [
        parse_result(item)
        for item in body.get("results") or []
        if isinstance(item, Mapping) and isinstance(item.get("batch_request_id"), str)
    ]
    return Page(items, _token(body))


def parse_result(item: Mapping[str, Any]) -> BatchResult:
    """One result: a response (``video_generation`` or ``video_extension``) or an error, which
    is a string in xAI's SDK tests and ``{"code", "message"}`` in other clients."""
    request_id = str(item["batch_request_id"])
    outcome = item.get("batch_result")
    outcome = outcome if isinstance(outcome, Mapping) else {}
    error = outcome.get("error")
    response = outcome.get("response")
    answer: Mapping[str, Any] | None = None
    if isinstance(response, Mapping):
        for kind in ("video_generation", "video_extension", "video_edit"):
            if isinstance(response.get(kind), Mapping):
                answer = response[kind]
                break
    if answer is not None and not error:
        inner = answer.get("error")
        if not inner:
            # A finished response reads as the interactive poll's ``done`` answer.
            parsed = XAI.parse_status({**answer, "status": "done"}, request_id).generation
            return BatchResult(request_id, parsed)
        error = inner
    code, message = _error(error)
    ticks = billed_ticks(answer) if answer is not None else None
    return BatchResult(
        request_id,
        VideoGeneration(
            generation_id=request_id,
            status="failed",
            error_code=code,
            error_message=message,
            cost_ticks=ticks,
            cost_source="billed" if ticks is not None else None,
        ),
    )


def _error(error: Any) -> tuple[str | None, str]:
    if isinstance(error, str) and error.strip():
        return None, error.strip()
    if isinstance(error, Mapping):
        code = error.get("code")
        message = error.get("message")
        code_text = str(code) if code not in (None, "") else None
        if isinstance(message, str) and message.strip():
            return code_text, message.strip()
        if code_text:
            return code_text, f"xAI reports {code_text}"
    return None, "xAI returned the batch result with neither a video nor an error"
