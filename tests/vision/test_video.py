"""Probing and timestamp-exact frame sampling, on videos whose frames show their own index."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from pictograph.vision.video import VideoError, planned_frame_count, probe, sample_frames
from tests.vision.coded_video import HEIGHT, WIDTH, frame_index_of, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 30 fps H.264 in MP4: 120 frames, a keyframe every second."""
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


def indices(path: Path, fps: float, *args: float | int | None) -> list[int]:
    frames = list(sample_frames(path, fps, *args))
    for frame in frames:
        assert frame_index_of(frame.pixels) == frame.index  # the pixels are that source frame
        assert frame.seconds == pytest.approx(frame.index / 30)
    return [frame.index for frame in frames]


def test_probe_reports_the_stream(clip: Path) -> None:
    info = probe(clip)
    assert info.duration_seconds == pytest.approx(4.0)
    assert info.fps == 30.0
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.codec == "h264"
    assert info.frame_count == 120


@pytest.mark.parametrize(
    ("suffix", "codec", "name"),
    [("webm", "libvpx-vp9", "vp9"), ("mkv", "libx264", "h264"), ("avi", "mpeg4", "mpeg4")],
)
def test_other_containers_and_codecs(tmp_path: Path, suffix: str, codec: str, name: str) -> None:
    path = write_video(tmp_path / f"clip.{suffix}", codec=codec)
    info = probe(path)
    assert (info.codec, info.frame_count, info.fps) == (name, 120, 30.0)
    assert indices(path, 2, 1.0, 2.0) == [30, 45]


def test_two_fps_takes_every_fifteenth_frame(clip: Path) -> None:
    frames = list(sample_frames(clip, 2))
    assert [frame.index for frame in frames] == list(range(0, 120, 15))
    assert all(frame.pixels.shape == (HEIGHT, WIDTH, 3) for frame in frames)
    assert all(frame.pixels.dtype == np.uint8 for frame in frames)
    assert indices(clip, 2) == list(range(0, 120, 15))


def test_interval_is_half_open_so_ranges_tile(clip: Path) -> None:
    assert indices(clip, 2, 1.0, 2.0) == [30, 45]
    assert indices(clip, 2, 2.0, 3.0) == [60, 75]
    first, second = indices(clip, 5, 0.0, 2.0), indices(clip, 5, 2.0, None)
    assert first + second == indices(clip, 5)  # split on the slot grid: the same frames
    first, second = indices(clip, 5, 0.0, 1.7), indices(clip, 5, 1.7, None)
    assert first[-1] < second[0]  # split anywhere: never the same frame twice
    assert indices(clip, 30, 1.0, 1.1) == [30, 31, 32]  # 1.1 s itself (frame 33) is excluded


def test_start_between_frames_takes_the_next_frame(clip: Path) -> None:
    assert indices(clip, 2, 1.25, 2.5) == [38, 53, 68]


def test_start_far_from_a_keyframe_decodes_forward(tmp_path: Path) -> None:
    one_keyframe = write_video(tmp_path / "long-gop.mp4", gop=1000)
    assert indices(one_keyframe, 2, 2.0, None) == [60, 75, 90, 105]


def test_max_frames_caps_the_output(clip: Path) -> None:
    assert indices(clip, 2, 0.0, None, 3) == [0, 15, 30]
    assert indices(clip, 2, 3.0, None, 100) == [90, 105]


def test_fps_above_the_native_rate_yields_every_frame(clip: Path) -> None:
    assert indices(clip, 60) == list(range(120))
    assert indices(clip, 30) == list(range(120))


@pytest.mark.parametrize(
    ("fps", "start", "end", "max_frames"),
    [(2, 0.0, None, None), (60, 0.0, None, None), (2, 1.25, 2.5, None), (7, 0.5, None, None),
     (1, 0.0, None, 2), (30, 3.9, 10.0, None)],
)  # fmt: skip
def test_planned_count_matches_the_sampling(
    clip: Path, fps: float, start: float, end: float | None, max_frames: int | None
) -> None:
    planned = planned_frame_count(probe(clip), fps, start, end, max_frames)
    assert planned == len(list(sample_frames(clip, fps, start, end, max_frames)))


def test_non_positive_fps_is_refused(clip: Path) -> None:
    with pytest.raises(ValueError):
        next(sample_frames(clip, 0))


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        silence = np.zeros((1, 800), np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("kind", ["random", "truncated", "empty", "audio-only"])
def test_unreadable_files_raise_video_error(clip: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "broken.mp4"
    if kind == "random":
        path.write_bytes(os.urandom(20_000))
    elif kind == "truncated":
        path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the index is at the end
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path = write_audio_only(tmp_path / "sound.wav")
    with pytest.raises(VideoError):
        probe(path)
    with pytest.raises(VideoError):
        list(sample_frames(path, 1))
