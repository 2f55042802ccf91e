"""Errors raised by the provider.

None of them ever carries the API key: messages are built from the upstream's status, its
error code and message, and the hooks scrub the key from upstream text before raising.
"""

from __future__ import annotations


class GrokVideoError(Exception):
    """Base class of every error this provider raises."""


class InvalidVideoRequest(GrokVideoError, ValueError):
    """A request field is outside what the upstream accepts; raised before any paid request.

    ``model`` names the model whose documented limit was broken (None for a type error).
    """

    def __init__(
        self, upstream: str, field: str, value: object, allowed: str, *, model: str | None = None
    ) -> None:
        self.upstream = upstream
        self.field = field
        self.value = value
        self.allowed = allowed
        self.model = model
        if model is None:
            text = f"{upstream}: {field}={value!r} is not accepted; {upstream} allows {allowed}"
        else:
            text = (
                f"{upstream}: {field}={value!r} is not accepted by model {model!r}; "
                f"{upstream} allows {allowed} for {model!r}"
            )
        super().__init__(text)


class UnexpectedResponse(GrokVideoError):
    """The upstream answered 2xx with a body we cannot read (not JSON, or missing the id)."""


class UpstreamHTTPError(GrokVideoError):
    """The upstream answered with an HTTP error status.

    ``retry_after`` is the delay in seconds the upstream asked for (``Retry-After``), if any.
    """

    def __init__(
        self,
        upstream: str,
        status_code: int,
        error_code: str | None,
        message: str,
        retry_after: float | None = None,
    ) -> None:
        self.upstream = upstream
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        self.retry_after = retry_after
        code = f" ({error_code})" if error_code else ""
        super().__init__(f"{upstream} answered HTTP {status_code}{code}: {message}")

    @property
    def is_transient(self) -> bool:
        """429 and 5xx are weather: the same request may succeed later."""
        return self.status_code == 429 or self.status_code >= 500


class UpstreamUnreachable(GrokVideoError):
    """No HTTP answer at all: connection refused, reset, timed out or cut off."""


class SubmitOutcomeUnknown(UpstreamUnreachable):
    """A submit request may have reached the upstream but its answer was lost.

    It is deliberately not retried: a second submit could generate (and bill) the video twice.
    """


class GenerationFailed(GrokVideoError):
    """The upstream finished the generation without a video (failed, cancelled or expired)."""

    def __init__(
        self, generation_id: str, status: str, error_code: str | None, message: str | None
    ) -> None:
        self.generation_id = generation_id
        self.status = status
        self.error_code = error_code
        self.error_message = message
        code = f" [{error_code}]" if error_code else ""
        reason = message or "no reason given"
        super().__init__(f"generation {generation_id} {status}{code}: {reason}")
