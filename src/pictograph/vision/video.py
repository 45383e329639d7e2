"""Reading videos with PyAV (which bundles FFmpeg): probing, and sampling frames by timestamp.

Sampling is exact: output slot ``k`` is at ``start + k / fps`` seconds, and each slot takes
the first decoded frame whose presentation time is at or after it. (FFmpeg's plain
``-vf fps=N`` rounds to the nearest slot and returns frames up to half a slot late.) The
interval is half-open, ``[start, end)``, so consecutive ranges never share a frame.

Every sampled frame carries its index in the source video, ``round(t × average fps)`` with
``t`` measured from the stream's first timestamp: the same frame always gets the same index,
whatever ``fps`` or ``start`` picked it. Nothing here knows about the server.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import av
import numpy as np
import numpy.typing as npt

SLOT_TOLERANCE = 1e-6
"""Seconds a frame may fall short of its slot and still fill it (float rounding in ``k / fps``)."""


class VideoError(Exception):
    """The file is not a video FFmpeg can demux and decode (or holds no video stream)."""


@dataclass(frozen=True)
class VideoInfo:
    duration_seconds: float
    fps: float
    """The average frame rate of the video stream."""
    width: int
    height: int
    codec: str
    frame_count: int
    """Frames in the stream as the container says, else ``duration × fps`` rounded."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SampledFrame(NamedTuple):
    index: int
    """The frame's index in the source video."""
    seconds: float
    """Its presentation time, from the start of the stream."""
    pixels: npt.NDArray[np.uint8]
    """RGB, shape ``(height, width, 3)``."""


def probe(path: str | Path) -> VideoInfo:
    """The video stream's figures; decodes the first frame, so an unusable codec shows here."""
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container)
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            duration = _duration(container, stream, fps)
            frame_count = int(stream.frames or 0) or round(duration * fps)
            codec = stream.codec_context.name
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoError("the video stream holds no decodable frame")
            return VideoInfo(
                duration_seconds=duration,
                fps=fps,
                width=int(stream.codec_context.width or first.width),
                height=int(stream.codec_context.height or first.height),
                codec=codec,
                frame_count=frame_count,
            )
    except av.FFmpegError as error:
        raise VideoError(f"not a readable video ({error})") from error


def sample_frames(
    path: str | Path,
    fps: float,
    start: float = 0.0,
    end: float | None = None,
    max_frames: int | None = None,
) -> Iterator[SampledFrame]:
    """The frames at ``fps`` slots within ``[start, end)``, at most ``max_frames`` of them.

    Seeks to the keyframe before ``start`` and decodes forward. A frame fills at most one
    slot, and slots a gap in the stream jumps over stay empty (no bursts of frames after a
    gap in variable-frame-rate video); ``fps`` above the native rate yields every frame.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    produced = 0
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container)
            stream.thread_type = "AUTO"
            time_base = stream.time_base or Fraction(1, 1)
            origin = Fraction(stream.start_time or 0) * time_base
            native = float(stream.average_rate or stream.guessed_rate or 0)
            if start > 0:
                target = int((origin + Fraction(start)) / time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            slot = 0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                seconds = float(frame.pts * time_base - origin)
                if end is not None and seconds >= end:
                    break
                if seconds < start + slot / fps - SLOT_TOLERANCE:
                    continue
                index = round(seconds * native) if native else produced
                yield SampledFrame(index, seconds, frame.to_ndarray(format="rgb24"))
                produced += 1
                if max_frames is not None and produced >= max_frames:
                    break
                slot = math.floor((seconds - start) * fps + SLOT_TOLERANCE) + 1
    except av.FFmpegError as error:
        raise VideoError(f"decoding failed after {produced} frames ({error})") from error


def planned_frame_count(
    info: VideoInfo,
    fps: float,
    start: float = 0.0,
    end: float | None = None,
    max_frames: int | None = None,
) -> int:
    """About how many frames :func:`sample_frames` will yield (for progress totals)."""
    stop = info.duration_seconds if end is None else min(end, info.duration_seconds)
    span = max(0.0, stop - start)
    rate = min(fps, info.fps) if info.fps > 0 else fps
    count = min(math.ceil(span * rate - SLOT_TOLERANCE), info.frame_count)
    if max_frames is not None:
        count = min(count, max_frames)
    return max(count, 0)


def _video_stream(container: Any) -> Any:
    if not container.streams.video:
        raise VideoError("the file holds no video stream")
    return container.streams.video[0]


def _duration(container: Any, stream: Any, fps: float) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return (stream.frames / fps) if stream.frames and fps else 0.0
