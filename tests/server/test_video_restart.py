"""A frame-extraction job survives ``kill -9`` of its server and writes each frame exactly once.

The server is killed while the job is part-way through; a new server on the same data
directory and database claims the job once its lease (2 s here) runs out and finishes it.
Each frame's image row, its item record and the job's running totals commit in one
transaction, so the totals counting every frame once means every frame was written once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from pictograph import Client
from pictograph.server.db.tables import Image, Job, JobItem
from tests.live_server import postgres_available, running_server, start_server
from tests.server.helpers import database, developer_http
from tests.vision.coded_video import write_video

ENV = {"PICTOGRAPH_JOB_LEASE_SECONDS": "2", "PICTOGRAPH_INDEX_IMAGES": "false"}
FRAMES = 600  # 20 s at 30 fps, every frame extracted: long enough to be killed part-way


def wait_for(client: httpx.Client, job_id: str, frames: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job = client.get(f"/video/extract-frames/{job_id}").json()
        except httpx.HTTPError:
            job = {}
        if job.get("frames_extracted", 0) >= frames or job.get("status") in ("complete", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {frames} frames in {timeout} s")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_extraction_resumes_after_kill_and_writes_each_frame_once(
    backend: str, tmp_path: Path
) -> None:
    if backend == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL on PICTOGRAPH_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL reachable")
    video = write_video(tmp_path / "long.mp4", frames=FRAMES)
    (tmp_path / "data").mkdir()
    with running_server(backend, tmp_path / "data", **ENV) as first:
        with Client(api_key=first.api_key, base_url=first.base_url) as sdk:
            dataset = sdk.projects.create("restart")
            info = sdk.video.upload(video, dataset.id)
            job = sdk.video.extract_frames(info.gcs_path, dataset.id, "/f", fps=30, wait=False)
        with developer_http(first, first.api_key) as client:
            partial = wait_for(client, job.job_id, 10, timeout=60)
        assert partial["status"] == "processing" and partial["frames_extracted"] < FRAMES
        first.process.kill()  # SIGKILL: no shutdown handler runs
        first.process.wait()

        second = start_server(first.data_dir, first.database_url or None, backend, **ENV)
        try:
            with developer_http(second, second.api_key) as client:
                finished = wait_for(client, job.job_id, FRAMES + 1, timeout=180)  # to the end
        finally:
            second.stop()
        db = database(first)
        try:
            with db.session() as session:
                attempts = session.get(Job, job.job_id).attempts
                items = session.scalar(
                    select(func.count()).select_from(JobItem).where(JobItem.job_id == job.job_id)
                )
                names = session.scalars(
                    select(Image.filename).where(Image.project_id == dataset.id)
                ).all()
        finally:
            db.dispose()
        frame_blobs = list((first.data_dir / "blobs").glob(f"orgs/*/projects/{dataset.id}/*/*"))

    assert finished["status"] == "complete", finished
    assert attempts == 2  # claimed by the first server, then resumed by the second
    assert finished["frames_extracted"] == items == FRAMES and finished["frames_skipped"] == 0
    assert sorted(names) == [f"long_{index:06d}.jpg" for index in range(FRAMES)]
    assert FRAMES <= len(frame_blobs) <= FRAMES + 1  # at most the frame in flight at the kill
    assert not (first.data_dir / "blobs" / info.gcs_path).exists()  # completed: upload deleted
