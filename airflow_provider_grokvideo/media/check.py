"""Is the delivered video the video paid for?  Its duration, width × height (so resolution and
aspect ratio), video codec and sound, read from the file, against what was asked.

The result is the ``delivered`` dict that the task's record (the "Grok videos" page), its
Asset event and its log carry: ``{duration, width, height, codec, audio, matches,
mismatches, reader}``.  Pure: no I/O here (``media.probe`` reads the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_grokvideo.media.probe import MediaInfo

#: What the task does when a video is not what was asked: log a warning, or fail.
ON_MISMATCH = ("warn", "fail")
#: The video codecs an MP4 from the upstreams may carry (what xAI takes as input: H.264,
#: H.265, AV1); another is reported as a mismatch.
PLAYABLE_CODECS = ("h264", "hevc", "av1")
#: A frame or two: the tolerance on the duration when the file's frame rate is not known.
DEFAULT_FRAME_RATE = 24.0
#: Pixels an encoder may round the short side by (macroblock alignment).
SIZE_TOLERANCE = 8
#: Relative tolerance on the aspect ratio (854×480 is 16:9 within 0.1 %).
ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Expected:
    """What was asked and paid for; ``None`` where the request left it to the upstream."""

    duration: float | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    audio: bool | None = None
    codec: str | None = None

    @classmethod
    def from_mapping(cls, asked: Any) -> Expected:
        """From a request's fields (a record, a dict of operator arguments)."""
        if not isinstance(asked, dict):
            return cls()
        duration = asked.get("duration")
        try:
            duration = float(duration) if duration not in (None, "", "None") else None
        except (TypeError, ValueError):
            duration = None
        audio = asked.get("audio")
        return cls(
            duration=duration,
            aspect_ratio=_text(asked.get("aspect_ratio")),
            resolution=_text(asked.get("resolution")),
            audio=audio if isinstance(audio, bool) else None,
            codec=_text(asked.get("codec")),
        )


def expected_audio(generate_audio: Any, reference_audios: Any) -> bool | None:
    """Sound is expected when asked for (``generate_audio=True`` or a reference voice),
    silence when ``generate_audio=False``; else not checked (the default is the model's)."""
    if generate_audio is False or (isinstance(generate_audio, str) and generate_audio == "false"):
        return False
    if generate_audio is True or reference_audios:
        return True
    return None


def compare(info: MediaInfo, expected: Expected) -> dict[str, Any]:
    """The ``delivered`` dict: what the file is, and each way it differs from ``expected``."""
    mismatches: list[str] = []
    if expected.duration is not None:
        rate = info.frame_rate or DEFAULT_FRAME_RATE
        tolerance = 2.0 / rate
        if info.duration is None:
            mismatches.append("duration: the file does not say")
        elif abs(info.duration - expected.duration) > tolerance:
            mismatches.append(
                f"duration: {info.duration:g} s, asked {expected.duration:g} s "
                f"(± {tolerance:.2g} s)"
            )
    width, height = info.width, info.height
    if (expected.aspect_ratio or expected.resolution) and not (width and height):
        mismatches.append("size: the file does not say")
    elif width and height:
        ratio = _ratio(expected.aspect_ratio)
        if ratio is not None and abs(width / height - ratio) / ratio > ASPECT_TOLERANCE:
            mismatches.append(f"aspect ratio: {width}x{height} is not {expected.aspect_ratio}")
        short = _short_side(expected.resolution)
        if short is not None and abs(min(width, height) - short) > SIZE_TOLERANCE:
            mismatches.append(f"resolution: {width}x{height} is not {expected.resolution}")
    if expected.codec is not None:
        if info.codec != expected.codec:
            mismatches.append(f"codec: {info.codec}, asked {expected.codec}")
    elif info.codec is not None and info.codec not in PLAYABLE_CODECS:
        mismatches.append(f"codec: {info.codec} (not one of {', '.join(PLAYABLE_CODECS)})")
    if expected.audio is True and not info.audio:
        mismatches.append("audio: none, asked for sound")
    elif expected.audio is False and info.audio:
        mismatches.append("audio: present, asked for a silent video")
    return {
        "duration": info.duration,
        "width": width,
        "height": height,
        "codec": info.codec,
        "audio": info.audio,
        "matches": not mismatches,
        "mismatches": mismatches,
        "reader": info.reader,
    }


def check_on_mismatch(value: Any) -> str:
    if value not in ON_MISMATCH:
        raise ValueError(f"on_mismatch must be one of {', '.join(ON_MISMATCH)}, not {value!r}")
    return str(value)


def _ratio(aspect: str | None) -> float | None:
    if not aspect or ":" not in aspect:
        return None
    left, _, right = aspect.partition(":")
    try:
        a, b = float(left), float(right)
    except ValueError:
        return None
    return a / b if a > 0 and b > 0 else None


def _short_side(resolution: str | None) -> int | None:
    if not resolution:
        return None
    digits = resolution.lower().rstrip("p")
    return int(digits) if digits.isdigit() else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    return str(value)


def video_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """Width × height of a video of ``aspect_ratio`` whose short side is ``resolution``
    (even numbers, as encoders want): ``("9:16", "720p")`` is 720 × 1280."""
    ratio = _ratio(aspect_ratio) or 16 / 9
    short = _short_side(resolution) or 480
    long = round(short * max(ratio, 1 / ratio) / 2) * 2
    return (long, short) if ratio >= 1 else (short, long)
