"""Synthetic videos whose every frame shows its own index, so a frame (or a JPEG made from
it) says which source frame it was.

The index is drawn in binary as eight vertical bars, 8 pixels wide across a 64-pixel-wide
frame: bar ``k`` (from the left) is white when bit ``k`` is set, black otherwise. Lossy
coding (H.264, then JPEG) moves pixel values by a few levels, far from the 128 threshold
:func:`frame_index_of` reads each bar's middle with.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

BITS = 8
BAR = 8
WIDTH, HEIGHT = BITS * BAR, 48


def coded_frame(index: int) -> npt.NDArray[np.uint8]:
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for bit in range(BITS):
        if index >> bit & 1:
            pixels[:, bit * BAR : (bit + 1) * BAR] = 255
    return pixels


def frame_index_of(pixels: npt.NDArray[np.uint8]) -> int:
    """The index :func:`coded_frame` drew, read back from an RGB array of the same size."""
    grey = pixels.astype(np.float32).mean(axis=2)
    middle = grey[HEIGHT // 4 : 3 * HEIGHT // 4]
    index = 0
    for bit in range(BITS):
        bar = middle[:, bit * BAR + 2 : (bit + 1) * BAR - 2]
        if bar.mean() > 128:
            index |= 1 << bit
    return index


def write_video(
    path: Path, *, frames: int = 120, fps: int = 30, codec: str = "libx264", gop: int = 30
) -> Path:
    """``frames`` coded frames at ``fps`` (4 s at 30 fps by default), a keyframe every ``gop``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.gop_size = gop
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(coded_frame(index), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
