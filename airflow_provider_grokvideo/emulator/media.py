"""The videos the emulator serves: as long, as large and as loud as the request asked.

A finished job's video is made for its request: its duration, its width × height (the
aspect ratio at the resolution's short side), and an audio track when the request asked for
sound.  With PyAV installed (the ``[media]`` extra) it is a real H.264 MP4 (black frames at
:data:`FRAMES_PER_SECOND`, silent AAC), a few kilobytes, made once per shape and cached;
without PyAV it is the packaged sample with its header rewritten to say the same
(``emulator/mp4_header.py``: what a header reader sees is the video asked for).  The
``[emulator:mismatch]`` marker makes a video that is not what was asked (half the length, the
aspect ratio turned, the sound flipped), so a check of delivered videos is tested both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from io import BytesIO

FRAMES_PER_SECOND = 8
AUDIO_RATE = 16_000
#: The longest video made (a 30 s spot of extensions); longer requests get this.
MAX_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class VideoShape:
    """What a job's video is: seconds, pixels, and whether it has sound."""

    duration: float
    width: int
    height: int
    audio: bool

    def mismatched(self) -> VideoShape:
        """A video that is not this one: half as long, turned, the sound flipped."""
        return VideoShape(max(1.0, self.duration / 2), self.height, self.width, not self.audio)


def shape_for(
    duration: float, aspect_ratio: str, resolution: str, audio: bool, *, mismatch: bool
) -> VideoShape:
    """The shape of a video of ``aspect_ratio`` (``"9:16"``) at ``resolution`` (``"720p"``)."""
    left, _, right = aspect_ratio.partition(":")
    ratio = float(left) / float(right)
    short = int(resolution.rstrip("p"))
    long = round(short * max(ratio, 1 / ratio) / 2) * 2
    width, height = (long, short) if ratio >= 1 else (short, long)
    shape = VideoShape(float(duration), width, height, audio)
    return shape.mismatched() if mismatch else shape


@lru_cache(maxsize=32)
def video_bytes(shape: VideoShape) -> bytes:
    """An MP4 of ``shape``: encoded with PyAV, else the sample with its header rewritten."""
    try:
        import av
    except ImportError:
        from airflow_provider_grokvideo.emulator.mp4_header import header_video

        return header_video(shape.duration, shape.width, shape.height, shape.audio)
    seconds = min(shape.duration, MAX_SECONDS)
    buffer = BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FRAMES_PER_SECOND)
        video.width, video.height, video.pix_fmt = shape.width, shape.height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "45"}
        sound = None
        if shape.audio:
            sound = out.add_stream("aac", rate=AUDIO_RATE)
            sound.layout = "mono"
        frame = av.VideoFrame(shape.width, shape.height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.time_base = Fraction(1, FRAMES_PER_SECOND)
        for index in range(max(1, round(seconds * FRAMES_PER_SECOND))):
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            _silence(out, sound, seconds)
    return buffer.getvalue()


def _silence(out: object, stream: object, seconds: float) -> None:
    import av

    total, step = int(seconds * AUDIO_RATE), 1024
    for start in range(0, total, step):
        frame = av.AudioFrame(format="fltp", layout="mono", samples=min(step, total - start))
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        out.mux(stream.encode(frame))  # type: ignore[attr-defined]
    out.mux(stream.encode(None))  # type: ignore[attr-defined]
