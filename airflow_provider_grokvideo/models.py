"""The normalized view of a video generation, shared by every upstream.

Operators, the sensor and the trigger speak only these types; the dialect modules translate
them to and from each upstream's own wire format.  Everything here is plain data that
round-trips through JSON, because it travels through XCom and trigger events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from airflow_provider_grokvideo.pricing import ticks_to_usd, usd_text, usd_to_ticks
from airflow_provider_grokvideo.statuses import (  # noqa: F401  (the model's names, re-exported)
    FAILED_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    Status,
)

#: Where a cost comes from: the upstream's bill, or the provider's estimate before submitting.
CostSource = Literal["billed", "estimated"]
COST_SOURCES: tuple[CostSource, ...] = ("billed", "estimated")


@dataclass(frozen=True)
class VideoRequest:
    """What a user asks for, in the neutral vocabulary every hook accepts.

    ``None`` means "the upstream's default"; each dialect maps the names to its upstream's own
    fields (for example ``aspect_ratio`` is xcompute's ``size`` and Mountsea's ``aspectRatio``).
    """

    prompt: str
    model: str | None = None
    duration: int | float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    image_urls: tuple[str, ...] = ()
    #: Reference-to-video: images whose look the video keeps (xAI only; not with image_urls).
    reference_image_urls: tuple[str, ...] = ()
    #: xAI's newer fields (sound, its Files, direct delivery, keyframes); see MediaOptions.
    options: MediaOptions = field(default_factory=lambda: NO_OPTIONS)


@dataclass(frozen=True)
class GenerationRequest:
    """A video as a caller of the hook asks for it, before the connection's defaults and the
    upstream's validation: the values as given (one URL or a list of them, numeric text for a
    duration, ``None`` for "the default").

    The hook's ``build_request``, ``estimate_cost`` and ``submit_video`` take these fields as
    keyword arguments and build one of these; :meth:`neutral` is the :class:`VideoRequest`
    the dialects read.
    """

    prompt: str
    duration: int | float | str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    #: Images to animate: public http(s) URLs, or one URL.
    image_urls: Sequence[str] | str | None = None
    #: The model; ``None``: the connection's ``model`` extra, else the upstream's default.
    model: str | None = None
    #: Reference-to-video (xAI only): images whose look the video keeps, or one of them.
    reference_image_urls: Sequence[str] | str | None = None
    #: xAI's newer fields under its names, as given (read by
    #: ``dialects.options.media_options``, which refuses a name it does not know).
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, prompt: str, **given: Any) -> GenerationRequest:
        """The request of a hook method's keyword arguments: the fields above by name, any
        other keyword an option."""
        named = {name: given.pop(name) for name in _REQUEST_FIELDS if name in given}
        return cls(prompt, **named, options=given)

    def neutral(self, default_model: str | None) -> VideoRequest:
        """The neutral request, options not included (the hook reads them with the dialect's
        ``media_options``), not yet validated."""
        images = self.image_urls
        return VideoRequest(
            prompt=self.prompt,
            model=self.model or default_model,
            duration=self.duration,  # type: ignore[arg-type]  # numeric text is read by the dialect
            aspect_ratio=self.aspect_ratio,
            resolution=self.resolution,
            image_urls=tuple([images] if isinstance(images, str) else images or ()),
            reference_image_urls=as_urls(self.reference_image_urls),
        )


_REQUEST_FIELDS = tuple(
    f.name for f in fields(GenerationRequest) if f.name not in ("prompt", "options")
)


def as_urls(value: Any) -> Any:
    """One URL or a list of them as a tuple (anything else is left for the dialect to refuse)."""
    if isinstance(value, str):
        return (value,)
    if value is None or isinstance(value, (list, tuple)):
        return tuple(value or ())
    return value


#: An input given by an xAI Files id instead of a URL (``xai-file:file_abc``): sent as
#: ``{"file_id": "file_abc"}`` (see :func:`file_ref`).
FILE_REF_PREFIX = "xai-file:"


def file_ref(file_id: str) -> str:
    """The neutral spelling of an input uploaded to xAI's Files (an image, a video)."""
    return FILE_REF_PREFIX + file_id


def file_id_of(ref: str) -> str | None:
    """The xAI file id of ``ref`` when it is one (:func:`file_ref`), else None."""
    return ref[len(FILE_REF_PREFIX) :] if ref.startswith(FILE_REF_PREFIX) else None


@dataclass(frozen=True)
class MediaOptions:
    """xAI's newer request fields (2026), under its own names, in normalized form.

    ``reference_audios``: voice ids (``"ara"``) or clip URLs (http(s) or ``data:audio/...``);
    ``generate_audio``: sent only when set (False for a silent video); ``storage_options``:
    xAI's own dict (``filename``, ``expires_after``, ``public_url``); ``keyframes``:
    ``(image, timestamp_s)`` pairs, the image a URL, data URI or :func:`file_ref`;
    ``upload_url``: a signed URL xAI PUTs the finished video to (``output.upload_url``).
    """

    reference_audios: tuple[str, ...] = ()
    generate_audio: bool | None = None
    storage_options: dict[str, Any] | None = None
    keyframes: tuple[tuple[str, float], ...] = ()
    upload_url: str | None = None

    def given(self) -> list[str]:
        """The names of the fields that are set, in xAI's spelling."""
        names = []
        if self.reference_audios:
            names.append("reference_audios")
        if self.generate_audio is not None:
            names.append("generate_audio")
        if self.storage_options is not None:
            names.append("storage_options")
        if self.keyframes:
            names.append("keyframes")
        if self.upload_url is not None:
            names.append("upload_url")
        return names


NO_OPTIONS = MediaOptions()


#: What is done to an existing video: ``"edit"`` it (same length, changed by the prompt) or
#: ``"extend"`` it (the prompt says what happens next, for ``duration`` more seconds).
SourceOperation = Literal["edit", "extend"]
SOURCE_OPERATIONS: tuple[SourceOperation, ...] = ("edit", "extend")


@dataclass(frozen=True)
class SourceVideoRequest:
    """An edit or an extension of an existing video, in the neutral vocabulary.

    ``video_url`` is the source: a public http(s) URL (an earlier generation's ``video_urls``
    entry is valid for hours) or a ``data:video/mp4;base64,...`` URI.  ``duration`` is, for an
    extension, the seconds added (the upstream's default when None); an edit has none.
    ``source_duration`` is the source video's length in seconds when known (an earlier
    generation's ``duration``): the limits on the input and the cost estimate read it.
    """

    operation: SourceOperation
    prompt: str
    video_url: str
    model: str | None = None
    duration: int | float | None = None
    source_duration: int | float | None = None
    #: ``storage_options`` and ``upload_url`` apply to edits and extensions too.
    options: MediaOptions = field(default_factory=lambda: NO_OPTIONS)


@dataclass(frozen=True)
class VideoGeneration:
    """One generation job as the upstream last described it.

    ``generation_id`` is the upstream's own job id: xcompute's task id, Mountsea's ``taskId``,
    xAI's ``request_id``.  ``expires_at`` is unix seconds when the upstream says when its video
    URLs stop working.  ``estimated_seconds`` is the upstream's estimate of the job's total
    run time, when it gives one; ``created_at`` is unix seconds when known.  ``duration`` is
    the finished video's length in seconds where the upstream reports it (xAI's
    ``video.duration``): an edit or extension of this video reads it.

    ``cost_ticks`` is the cost in integer ticks (1 USD = 10**10 ticks, xAI's unit) and
    ``cost_source`` says whose figure it is: ``"billed"`` when the upstream reports what it
    charged (xAI's ``usage.cost_in_usd_ticks``), ``"estimated"`` when the sensor filled in the
    generate task's estimate; both ``None`` when nothing is known.  Sum ``cost_ticks`` (or
    ``Decimal(cost_usd)``), never floats.
    """

    generation_id: str
    status: Status
    progress: int | None = None
    video_urls: list[str] = field(default_factory=list)
    thumbnail_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    expires_at: float | None = None
    estimated_seconds: float | None = None
    created_at: float | None = None
    cost_ticks: int | None = None
    cost_source: CostSource | None = None
    duration: int | float | None = None
    #: xAI's Files copy of the output when ``storage_options`` asked for one (its
    #: ``video.file_output``: ``file_id``, ``filename``, ``public_url``,
    #: ``public_url_expires_at``, ``expires_at``), and ``storage_error`` when xAI could not
    #: store or deliver it (a failed ``output.upload_url`` PUT included).
    file_output: dict[str, Any] | None = None
    storage_error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.progress is not None and not 0 <= self.progress <= 100:
            raise ValueError(f"progress must be within 0..100, not {self.progress!r}")
        if self.cost_ticks is not None and (
            isinstance(self.cost_ticks, bool)
            or not isinstance(self.cost_ticks, int)
            or self.cost_ticks < 0
        ):
            raise ValueError(f"cost_ticks must be a non-negative int, not {self.cost_ticks!r}")
        if self.cost_source not in (None, *COST_SOURCES):
            raise ValueError(f"cost_source must be billed or estimated, not {self.cost_source!r}")
        if (self.cost_ticks is None) != (self.cost_source is None):
            raise ValueError("cost_ticks and cost_source go together")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def cost_usd(self) -> Decimal | None:
        """The cost in US dollars, exactly (see ``cost_source`` for whose figure it is)."""
        return None if self.cost_ticks is None else ticks_to_usd(self.cost_ticks)

    @property
    def cost_usd_text(self) -> str | None:
        """:attr:`cost_usd` as exact decimal text (``"0.48"``), as XCom and Asset events carry
        it."""
        cost = self.cost_usd
        return None if cost is None else usd_text(cost)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, as pushed to XCom and carried by trigger events.

        ``cost_usd`` is added as exact decimal text (``"0.48"``), beside ``cost_ticks``.
        Each unix time also comes readable, as ``<name>_utc`` (``2026-12-01T22:49:10Z``);
        :meth:`from_dict` ignores those.
        """
        data = asdict(self)
        data["cost_usd"] = self.cost_usd_text
        for name in ("expires_at", "created_at"):
            data[f"{name}_utc"] = utc_text(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VideoGeneration:
        """Read back what :meth:`to_dict` produced (unknown keys are ignored)."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["video_urls"] = list(known.get("video_urls") or [])
        if known.get("cost_ticks") is None and data.get("cost_usd") not in (None, ""):
            known["cost_ticks"] = usd_to_ticks(data["cost_usd"])
        return cls(**known)


@dataclass(frozen=True)
class WaitResult(VideoGeneration):
    """What a finished wait returns (the sensor's, or the generate task's with
    ``wait_for_completion``): the succeeded generation with its cost (billed, else the generate
    task's estimate: ``cost_source`` says which) and ``conn_id``, the connection polled, the one
    that made the video (after a failover, not always the task's first).

    The download and the Asset events read it; its XCom is ``VideoGeneration.to_dict()`` with
    ``conn_id`` last, the JSON users already pull.  :meth:`from_xcom` reads that back, and an
    older version's dict without ``conn_id`` too.  XCom is data another task wrote: reading it
    only checks types and values (``__post_init__``), it never evaluates anything.
    """

    conn_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.conn_id is not None and not isinstance(self.conn_id, str):
            raise ValueError(f"conn_id must be text, not {type(self.conn_id).__name__}")

    def to_xcom(self) -> dict[str, Any]:
        """The task's return value: ``to_dict()`` with ``conn_id`` after the generation's own
        keys, in the order earlier versions pushed them."""
        data = self.to_dict()
        data["conn_id"] = data.pop("conn_id")
        return data

    @classmethod
    def from_xcom(cls, value: Any) -> WaitResult:
        """Read a wait's XCom value (a dict, with or without ``conn_id``), a
        :class:`VideoGeneration` (no connection known) or a ``WaitResult``.  Raises
        ``TypeError`` for anything else and ``ValueError`` for a bad value."""
        if isinstance(value, cls):
            return value
        if isinstance(value, VideoGeneration):
            return cls(
                **{name: getattr(value, name) for name in VideoGeneration.__dataclass_fields__}
            )
        if not isinstance(value, dict):
            raise TypeError(f"a wait's result is a dict, not {type(value).__name__}")
        result = cls.from_dict(value)
        assert isinstance(result, cls)  # from_dict builds the class it is called on
        return result


def utc_text(seconds: float | None) -> str | None:
    """Unix seconds as readable UTC (``2026-12-01T22:49:10Z``), or None."""
    if seconds is None:
        return None
    try:
        moment = datetime.fromtimestamp(float(seconds), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
