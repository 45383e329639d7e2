"""``client.video`` against the live server (SQLite and PostgreSQL): upload → probe →
extract_frames, with the frames read back and identified by the index each one shows.

The test video is 4 s of 30 fps (120 frames, 64×48); frame ``i`` draws ``i`` in binary
(tests/vision/coded_video.py), so a JPEG says which source frame it came from.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image as PILImage

from pictograph import Client
from pictograph.exceptions import ApiError, NotFoundError, PollTimeoutError, ValidationError
from pictograph.models.project import Project
from pictograph.models.video import VideoExtractionJob
from tests.client.conftest import write_image
from tests.live_server import LiveServer, postgres_available, running_server
from tests.server.helpers import developer_http
from tests.vision.coded_video import HEIGHT, WIDTH, frame_index_of, write_video

FAST = {"poll_interval": 0.2, "timeout": 120.0}


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "drive.mp4")


def folder_images(client: Client, project: Project, folder: str) -> dict[str, Any]:
    """The live images of ``folder``, by filename."""
    dataset = client.datasets.get(project.name, include_images=True)
    return {
        image.filename: image
        for image in dataset.images or []
        if image.virtual_folder_path == folder
    }


def names(basename: str, indices: list[int]) -> set[str]:
    return {f"{basename}_{index:06d}.jpg" for index in indices}


def check_frames(client: Client, images: dict[str, Any], tmp_path: Path) -> None:
    """Every image decodes at the video's size and shows the frame its name gives."""
    for filename, image in images.items():
        path = client.images.download(image.id, tmp_path / "frames" / filename)
        with PILImage.open(path) as decoded:
            assert decoded.format == "JPEG"
            assert decoded.size == (WIDTH, HEIGHT)
            pixels = np.asarray(decoded.convert("RGB"))
        assert frame_index_of(pixels) == int(filename.rsplit("_", 1)[1].split(".")[0])


def test_upload_probe_and_extract(
    client: Client, project: Project, video: Path, tmp_path: Path
) -> None:
    info = client.video.upload(video, project.id, folder_path="/raw")
    assert info.gcs_path.endswith("/drive.mp4") and info.video_id in info.gcs_path
    assert info.gcs_uri.endswith(info.gcs_path) and info.dataset_id == project.id

    meta = client.video.probe(info.gcs_path)
    assert meta.duration_seconds == pytest.approx(4.0)
    assert meta.fps == meta.native_fps == 30.0
    assert (meta.width, meta.height, meta.codec, meta.frame_count) == (WIDTH, HEIGHT, "h264", 120)

    job = client.video.extract_frames(
        info.gcs_path, project.id, folder_path="/frames/", fps=2.0, **FAST
    )
    assert job.status == "complete" and job.progress == 100
    assert job.frames_extracted == job.total_frames == 8 and job.frames_skipped == 0
    assert job.folder_path == "/frames" and job.dataset_id == project.id

    images = folder_images(client, project, "/frames")
    assert set(images) == names("drive", list(range(0, 120, 15)))
    check_frames(client, images, tmp_path)
    assert client.video.get_extraction(job.job_id) == job
    with pytest.raises(NotFoundError):  # a completed extraction deletes the upload
        client.video.probe(info.gcs_path)


def test_start_end_and_max_frames(
    client: Client, project: Project, video: Path, tmp_path: Path
) -> None:
    info = client.video.upload(video, project.id)
    job = client.video.extract_frames(
        info.gcs_path, project.id, folder_path="/window", fps=2, start_seconds=1.0,
        end_seconds=3.0, wait=False,
    )  # fmt: skip
    assert job.status == "processing" and job.total_frames == 4
    job = client.video.wait_for_extraction(job.job_id, **FAST)
    window = folder_images(client, project, "/window")
    assert set(window) == names("drive", [30, 45, 60, 75]) and job.frames_extracted == 4
    check_frames(client, window, tmp_path)

    info = client.video.upload(video, project.id)
    capped = client.video.extract_frames(
        info.gcs_path, project.id, folder_path="/capped", fps=2, start_seconds=1.25,
        max_frames=3, **FAST,
    )  # fmt: skip
    assert capped.frames_extracted == capped.total_frames == 3
    assert set(folder_images(client, project, "/capped")) == names("drive", [38, 53, 68])


def test_second_extraction_into_the_folder_skips_existing_frames(
    client: Client, project: Project, video: Path
) -> None:
    first = client.video.upload(video, project.id)
    done = client.video.extract_frames(first.gcs_path, project.id, "/shots", fps=1, **FAST)
    assert done.frames_extracted == 4
    again = client.video.upload(video, project.id)  # the first upload was deleted
    second = client.video.extract_frames(again.gcs_path, project.id, "/shots", fps=2, **FAST)
    assert (second.frames_extracted, second.frames_skipped, second.total_frames) == (4, 4, 8)
    assert set(folder_images(client, project, "/shots")) == names("drive", list(range(0, 120, 15)))


def test_not_a_video_is_415(client: Client, project: Project, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_bytes(b"these are not video frames " * 100)
    info = client.video.upload(fake, project.id)
    for call in (
        lambda: client.video.probe(info.gcs_path),
        lambda: client.video.extract_frames(info.gcs_path, project.id, wait=False),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.status_code == 415
    with pytest.raises(ValidationError) as caught:  # refused before any request
        client.video.upload(write_image(tmp_path / "photo.png"), project.id)
    assert caught.value.status_code is None


def test_upload_url_refuses_non_video_types(live_server: LiveServer) -> None:
    with developer_http(live_server, live_server.api_key) as http:
        for body, field in (
            ({"filename": "photo.png", "content_type": "image/png"}, "filename"),
            ({"filename": "clip.mp4", "content_type": "image/png"}, "content_type"),
        ):
            response = http.post("/video/upload-url", json=body)
            assert response.status_code == 415
            assert response.json()["errors"][0]["loc"] == [field]
        response = http.post("/video/upload-url", json={"filename": "../x.mp4"})
        assert response.status_code == 422
        response = http.post(
            "/video/upload-url", json={"filename": "clip.mp4", "dataset_id": "no-such-dataset"}
        )
        assert response.status_code == 404


def test_unknown_video_or_dataset_is_404(client: Client, project: Project, video: Path) -> None:
    info = client.video.upload(video, project.id)
    org = info.gcs_path.split("/")[1]
    for path in (
        f"orgs/{org}/videos/{'0' * 32}/drive.mp4",
        f"orgs/other-org/videos/{info.video_id}/drive.mp4",
        "../../etc/passwd",
        "drive.mp4",
    ):
        with pytest.raises(NotFoundError):
            client.video.probe(path)
        with pytest.raises(NotFoundError):
            client.video.extract_frames(path, project.id, wait=False)
    with pytest.raises(NotFoundError):
        client.video.extract_frames(info.gcs_path, "no-such-dataset", wait=False)
    assert client.video.probe(info.gcs_path).frame_count == 120  # still there


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"fps": 0}, "fps"),
        ({"fps": -2.0}, "fps"),
        ({"fps": "fast"}, "fps"),
        ({"sample_fps": 0}, "sample_fps"),
        ({"start_seconds": -1}, "start_seconds"),
        ({"start_seconds": 10.0}, "start_seconds"),  # past the 4 s video
        ({"start_seconds": 2, "end_seconds": 2}, "end_seconds"),
        ({"end_seconds": 0}, "end_seconds"),
        ({"max_frames": 0}, "max_frames"),
        ({"max_frames": 2.5}, "max_frames"),
        ({"max_frames": True}, "max_frames"),
        ({"folder_path": "/a/../b"}, "folder_path"),
        ({"dataset_id": None}, "dataset_id"),
        ({"dataset_id": 7}, "dataset_id"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    client: Client,
    live_server: LiveServer,
    project: Project,
    video: Path,
    values: dict[str, Any],
    field: str,
) -> None:
    info = client.video.upload(video, project.id)
    body = {"gcs_path": info.gcs_path, "dataset_id": project.id, **values}
    with developer_http(live_server, live_server.api_key) as http:
        response = http.post("/video/extract-frames", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == [field]


def test_sdk_reports_field_errors(client: Client, project: Project, video: Path) -> None:
    info = client.video.upload(video, project.id)
    with pytest.raises(ValidationError) as caught:
        client.video.extract_frames(info.gcs_path, project.id, fps=0)
    assert caught.value.status_code == 422 and caught.value.errors[0]["loc"] == ["fps"]


def test_wait_raises_poll_timeout_with_the_job_id(
    client: Client, project: Project, video: Path
) -> None:
    info = client.video.upload(video, project.id)
    job = client.video.extract_frames(info.gcs_path, project.id, fps=30, wait=False)
    with pytest.raises(PollTimeoutError) as caught:
        client.video.wait_for_extraction(job.job_id, timeout=1e-6, poll_interval=0.1)
    assert caught.value.job_id == job.job_id
    assert client.video.wait_for_extraction(job.job_id, **FAST).frames_extracted == 120
    with pytest.raises(NotFoundError):
        client.video.get_extraction("no-such-job")


def test_published_client_wire_shape(
    live_server: LiveServer, project: Project, video: Path
) -> None:
    """What the published hosted client sends, byte for byte: a chunked PUT without the key."""
    with developer_http(live_server, live_server.api_key) as http:
        ticket = http.post(
            "/video/upload-url", json={"filename": video.name, "content_type": "video/mp4"}
        ).json()
        assert {"upload_url", "gcs_path", "gcs_uri", "video_id"} <= set(ticket)

        def chunks() -> Iterator[bytes]:
            with video.open("rb") as fh:
                while chunk := fh.read(4096):
                    yield chunk

        headers = {"Content-Type": "video/mp4"}
        put = httpx.put(ticket["upload_url"], content=chunks(), headers=headers)
        assert put.status_code < 300
        meta = http.post("/video/probe", json={"gcs_path": ticket["gcs_path"]}).json()
        assert meta["native_fps"] == 30.0 and meta["frame_count"] == 120
        started = http.post(
            "/video/extract-frames",
            json={
                "dataset_name": project.name,
                "gcs_path": ticket["gcs_path"],
                "folder_name": "clips",
                "sample_fps": 1.0,
                "parent_folder_path": "/videos",
            },
        )
        assert started.status_code == 201, started.text
        job = started.json()
        deadline = time.monotonic() + 120
        while job["status"] == "processing" and time.monotonic() < deadline:
            time.sleep(0.2)
            job = http.get(f"/video/extract-frames/{job['job_id']}").json()
    parsed = VideoExtractionJob.model_validate(job)
    assert parsed.status == "complete" and parsed.progress == 100
    assert (parsed.frames_extracted, parsed.total_frames) == (4, 4)
    assert parsed.folder_path == "/videos/clips" and parsed.error is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_video_limit_is_separate_from_the_image_limit(
    backend: str, tmp_path: Path, video: Path
) -> None:
    if backend == "postgresql" and not postgres_available():
        pytest.skip("no PostgreSQL reachable")
    (tmp_path / "data").mkdir()
    with running_server(backend, tmp_path / "data", PICTOGRAPH_MAX_VIDEO_BYTES="1000") as server:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            dataset = sdk.projects.create("limits")
            assert video.stat().st_size > 1000
            with pytest.raises(ApiError) as caught:
                sdk.video.upload(video, dataset.id)
            assert caught.value.status_code == 413
            photo = write_image(tmp_path / "big.png", size=(64, 64))
            assert photo.stat().st_size > 1000
            assert sdk.images.upload(dataset.id, photo).file_size == photo.stat().st_size
        with developer_http(server, server.api_key) as http:
            ticket = http.post("/video/upload-url", json={"filename": "a.mp4"}).json()
        assert ticket["max_bytes"] == 1000
        chunked = httpx.put(ticket["upload_url"], content=iter([b"x" * 600, b"x" * 600]))
        assert chunked.status_code == 413 and "1000 bytes" in chunked.json()["detail"]
