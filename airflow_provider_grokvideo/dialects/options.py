"""xAI's newer request fields, validated per upstream and model before anything is paid.

``reference_audios``, ``generate_audio``, ``storage_options``, ``keyframes`` and the direct
delivery URL (``output.upload_url``), as documented in UPSTREAMS.md ("xAI's newer request
fields").  Pure: no I/O, no Airflow import.  An upstream that documents none of them (xcompute,
Mountsea) refuses each by its name, as it refuses ``reference_image_urls``, naming xAI.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_grokvideo.models import NO_OPTIONS, MediaOptions, file_id_of


class Limits(Protocol):
    """What these checks read of a model's limits (``dialects.base.Limits``; typed here, not
    imported: the dialects' base imports this module)."""

    default_duration: int | None
    max_reference_audios: int
    max_keyframes: int


class Dialect(Protocol):
    """What these checks use of a dialect (``dialects.base.Dialect``)."""

    def offers_option(self, name: str) -> bool: ...

    def refuse_option(self, name: str, value: object) -> None: ...

    def _check_image_url(
        self, url: str, lim: Any, *, relaxed: bool, field_name: str = "image_urls"
    ) -> None: ...

    def _refuse(
        self, field_name: str, value: object, allowed: str, model: str | None = None
    ) -> None: ...


#: xAI's preset voices (its TTS voices); a clip URL is the other kind of reference audio.
VOICE_IDS: tuple[str, ...] = ("ara", "eve", "leo", "rex", "sal")
#: ``storage_options.expires_after`` and ``public_url.expires_after``: 1 hour to 30 days.
EXPIRES_AFTER = (3600, 2_592_000)
_STORAGE_KEYS = ("filename", "expires_after", "public_url")
#: The fields an edit or an extension takes; the rest are a generation's.
SOURCE_FIELDS = ("storage_options", "upload_url")


def media_options(
    *,
    reference_audios: Any = None,
    generate_audio: Any = None,
    storage_options: Any = None,
    keyframes: Any = None,
    upload_url: Any = None,
) -> MediaOptions:
    """The keyword arguments of an operator or hook method as :class:`MediaOptions`, read
    leniently (xAI's own shapes or the short ones; templated text); the dialect validates."""
    given = (reference_audios, generate_audio, storage_options, keyframes, upload_url)
    if all(value is None for value in given):
        return NO_OPTIONS
    return MediaOptions(
        reference_audios=tuple(_audio_refs(reference_audios)),
        generate_audio=_as_flag(generate_audio),
        storage_options=dict(storage_options)
        if isinstance(storage_options, Mapping)
        else (None if storage_options in (None, "", "None") else storage_options),
        keyframes=tuple(keyframe_pairs(keyframes)),
        upload_url=None if upload_url in (None, "", "None") else upload_url,
    )


def validate_options(
    dialect: Dialect,
    options: MediaOptions,
    *,
    lim: Limits,
    duration: int | float | None,
    relaxed: bool,
    refused_for: str | None,
    fields: Sequence[str] | None = None,
) -> MediaOptions:
    """Return ``options`` as sent, or raise :class:`InvalidVideoRequest` naming the field.

    ``fields``: the fields this call takes (an edit or extension: :data:`SOURCE_FIELDS`).
    """
    given = options.given()
    if not given:
        return options
    for name in given:
        if not dialect.offers_option(name):
            dialect.refuse_option(name, getattr(options, name))
        if fields is not None and name not in fields:
            dialect._refuse(
                name, getattr(options, name), f"no {name} on an edit or extension (generations)"
            )
    if options.reference_audios:
        _check_audios(dialect, options.reference_audios, lim, relaxed, refused_for)
    if options.generate_audio is not None and not isinstance(options.generate_audio, bool):
        dialect._refuse("generate_audio", options.generate_audio, "true or false")
    if options.storage_options is not None:
        _check_storage(dialect, options.storage_options)
    if options.keyframes:
        top = duration if duration is not None else lim.default_duration
        _check_keyframes(dialect, options.keyframes, lim, top, relaxed, refused_for)
    if options.upload_url is not None:
        url = options.upload_url
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            dialect._refuse("upload_url", "<a signed URL>", "an absolute http(s) signed URL")
    return options


def _check_audios(
    dialect: Dialect,
    audios: tuple[str, ...],
    lim: Limits,
    relaxed: bool,
    refused_for: str | None,
) -> None:
    if not relaxed and len(audios) > lim.max_reference_audios:
        allowed = (
            f"at most {lim.max_reference_audios} reference audios"
            if lim.max_reference_audios
            else "none (reference_audios: grok-imagine-video-1.5 only)"
        )
        dialect._refuse("reference_audios", f"{len(audios)} audio(s)", allowed, refused_for)
    for audio in audios:
        if not isinstance(audio, str) or not audio.strip():
            dialect._refuse("reference_audios", audio, "voice ids or clip URLs")
        if audio.startswith("data:"):
            if not audio.lower().startswith("data:audio/") or ";base64," not in audio[:80]:
                dialect._refuse("reference_audios", audio[:60], "a data:audio/...;base64 clip")
            continue
        if "://" in audio:
            if urlsplit(audio).scheme not in ("http", "https"):
                dialect._refuse("reference_audios", audio, "an http(s) clip URL")
            continue
        if not relaxed and audio not in VOICE_IDS:
            dialect._refuse(
                "reference_audios",
                audio,
                f"one of xAI's voices ({', '.join(VOICE_IDS)}) or a clip URL",
                refused_for,
            )


def _check_storage(dialect: Dialect, storage: Any) -> None:
    if not isinstance(storage, Mapping):
        dialect._refuse("storage_options", storage, "a dict of " + ", ".join(_STORAGE_KEYS))
    unknown = sorted(set(storage) - set(_STORAGE_KEYS))
    if unknown:
        dialect._refuse(f"storage_options.{unknown[0]}", storage[unknown[0]], _keys_text())
    filename = storage.get("filename")
    if filename is not None and (not isinstance(filename, str) or not filename.strip()):
        dialect._refuse("storage_options.filename", filename, "a non-empty file name")
    _check_expiry(dialect, "storage_options.expires_after", storage.get("expires_after"))
    public = storage.get("public_url")
    if isinstance(public, Mapping):
        extra = sorted(set(public) - {"expires_after"})
        if extra:
            dialect._refuse(f"storage_options.public_url.{extra[0]}", public[extra[0]], "none")
        _check_expiry(
            dialect, "storage_options.public_url.expires_after", public.get("expires_after")
        )
    elif public is not None and not isinstance(public, bool):
        dialect._refuse("storage_options.public_url", public, "true, false or {expires_after}")


def _check_expiry(dialect: Dialect, name: str, value: Any) -> None:
    low, high = EXPIRES_AFTER
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        dialect._refuse(name, value, f"whole seconds from {low} to {high}")


def _check_keyframes(
    dialect: Dialect,
    keyframes: tuple[tuple[str, float], ...],
    lim: Limits,
    duration: int | float | None,
    relaxed: bool,
    refused_for: str | None,
) -> None:
    if not relaxed and len(keyframes) > lim.max_keyframes:
        allowed = f"at most {lim.max_keyframes}" if lim.max_keyframes else "none on this model"
        dialect._refuse("keyframes", f"{len(keyframes)} keyframes", allowed, refused_for)
    for image, moment in keyframes:
        if not isinstance(image, str) or not image:
            dialect._refuse("keyframes[].image", image, "an image URL, data URI or file id")
        if file_id_of(image) is None:
            dialect._check_image_url(image, lim, relaxed=relaxed, field_name="keyframes[].image")
        if isinstance(moment, bool) or not isinstance(moment, (int, float)):
            dialect._refuse("keyframes[].timestamp_s", moment, "seconds into the video")
        late = duration is not None and moment >= duration
        if not math.isfinite(moment) or moment <= 0 or late:
            within = f" (below the duration, {duration:g} s)" if duration is not None else ""
            dialect._refuse("keyframes[].timestamp_s", moment, f"0 < t{within}", refused_for)


def _keys_text() -> str:
    return "keys " + ", ".join(_STORAGE_KEYS)


def _audio_refs(value: Any) -> list[Any]:
    """``"ara"``, ``{"voice_id": "ara"}``, ``{"url": ...}`` or a list of them, as strings."""
    if value in (None, "", "None"):
        return []
    if isinstance(value, (str, Mapping)):
        value = [value]
    out: list[Any] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, Mapping):
            item = item.get("voice_id") or item.get("url") or item
        out.append(item)
    return out


def keyframe_pairs(value: Any) -> list[Any]:
    """xAI's ``[{"image": {"url"}|url, "timestamp_s": t}]`` (or ``(image, t)`` pairs)."""
    if value in (None, "", "None"):
        return []
    out: list[Any] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, Mapping):
            image = item.get("image")
            if isinstance(image, Mapping):
                fid = image.get("file_id")
                image = f"xai-file:{fid}" if fid else image.get("url")
            moment = item.get("timestamp_s")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            image, moment = item
        else:
            image, moment = item, None
        if isinstance(moment, str):
            with contextlib.suppress(ValueError):
                moment = float(moment)
        out.append((image, moment))
    return out


def _as_flag(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none"):
            return None
        if text in ("true", "false"):
            return text == "true"
    return value
