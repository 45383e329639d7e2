"""A batch auto-label job survives ``kill -9`` of its server and writes each image exactly once.

The server is killed while the job is part-way through; a new server on the same data
directory and database claims the job once its lease (2 s here) runs out and finishes it.
Exactly once is read off the ledger: every image's write and its 1-credit debit commit in one
transaction, so one debit per image means one write per image.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from pictograph.server.db.tables import CreditLedgerEntry, Image, Job, JobItem
from pictograph import Client
from tests.live_server import postgres_available, running_server, start_server
from tests.server.helpers import database, developer_http

LEASE = {"PICTOGRAPH_JOB_LEASE_SECONDS": "2"}
PHOTOS = ("astronaut", "chelsea")
COUNT = 4


def write_photos(folder: Path) -> list[Path]:
    import skimage.data

    paths = []
    for index in range(COUNT):
        photo = PILImage.fromarray(getattr(skimage.data, PHOTOS[index % 2])())
        photo.thumbnail((200 + 10 * index, 200 + 10 * index))
        path = folder / f"photo-{index}.jpg"
        photo.save(path)
        paths.append(path)
    return paths


def wait_for(client: httpx.Client, job_id: str, done: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job = client.get(f"/auto-annotate/batch/{job_id}").json()
        except httpx.HTTPError:
            job = {}
        if job.get("processed_images", 0) >= done or job.get("status") in (
            "completed",
            "failed",
            "cancelled",
        ):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {done} images in {timeout} s")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_job_resumes_after_kill_and_writes_each_image_once(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL on PICTOGRAPH_TEST_POSTGRES_URL")
        pytest.skip("no PostgreSQL reachable")
    photos = write_photos(tmp_path)
    (tmp_path / "data").mkdir()
    with running_server(backend, tmp_path / "data", **LEASE) as first:
        with Client(api_key=first.api_key, base_url=first.base_url) as sdk:
            dataset = sdk.projects.create("restart", classes=[{"name": "person"}, {"name": "cat"}])
            for path in photos:
                sdk.images.upload(dataset.id, path)
            job = sdk.auto_annotate.batch(
                "restart",
                None,
                [
                    {"name": "person", "output_type": "polygon"},
                    {"name": "cat", "output_type": "polygon"},
                ],
                confidence_threshold=0.3,
                wait=False,
            )
        with developer_http(first, first.api_key) as client:
            partial = wait_for(client, job.job_id, 1, timeout=120)
        assert partial["status"] == "running" and partial["processed_images"] < COUNT
        first.process.kill()  # SIGKILL: no shutdown handler runs
        first.process.wait()

        second = start_server(first.data_dir, first.database_url or None, backend, **LEASE)
        try:
            with developer_http(second, second.api_key) as client:
                finished = wait_for(client, job.job_id, COUNT + 1, timeout=180)
        finally:
            second.stop()
        db = database(first)
        try:
            with db.session() as session:
                row = session.get(Job, job.job_id)
                items = session.scalars(
                    select(JobItem.item_key).where(JobItem.job_id == job.job_id)
                ).all()
                debits = [
                    entry
                    for entry in session.scalars(
                        select(CreditLedgerEntry).where(
                            CreditLedgerEntry.operation == "sam3_auto_annotation"
                        )
                    )
                    if (entry.details or {}).get("job_id") == job.job_id
                ]
                drafts = {
                    image.id: [
                        a
                        for a in image.annotations
                        if a.get("created_by") == f"auto_label:{job.job_id}"
                    ]
                    for image in session.scalars(
                        select(Image).where(Image.project_id == dataset.id)
                    )
                }
                attempts = row.attempts
        finally:
            db.dispose()

    assert finished["status"] == "completed"
    assert finished["processed_images"] == COUNT and finished["failed_images"] == 0
    assert attempts == 2  # claimed by the first server, then resumed by the second
    assert sorted(items) == sorted(drafts) and len(set(items)) == COUNT
    assert sorted((d.details or {})["image_id"] for d in debits) == sorted(drafts)
    assert all(d.amount == -1 for d in debits) and finished["credits_charged"] == COUNT
    assert (
        sum(len(found) for found in drafts.values()) == finished["total_annotations_added"] >= COUNT
    )
