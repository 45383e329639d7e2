"""The ``video_extract`` job: sample an uploaded video's frames into a dataset folder as JPEGs.

Each frame is one item keyed by its index in the source video. Its JPEG is written to the
blob store first; then one transaction creates the image row (``add_image``, which also
queues it for embedding), records the item and adds to the job's totals. So a job killed
at any point and resumed skips the frames already recorded and writes every other frame
once; the blob of a frame whose transaction did not commit is deleted (only a kill between
the blob write and the commit can leave one behind).

A frame whose name is already taken in the folder (a second extraction of the same video
into it) is recorded as skipped, not written again. Once the job completes, the uploaded
video is deleted, as the hosted service does, unless another extraction still waits on it;
a failed or cancelled job keeps it, so the extraction can be retried.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pictograph.server.db.tables import Job, JobItem, Project
from pictograph.server.errors import Conflict
from pictograph.server.jobs.context import JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services.images import add_image, new_blob_key
from pictograph.server.services.video import JOB_KIND, frame_filename
from pictograph.vision.video import SampledFrame, sample_frames

logger = logging.getLogger("pictograph.jobs.video")

JPEG_QUALITY = 92


class SourceGone(Exception):
    """The uploaded video or the target dataset was deleted before the job could finish."""


def _jpeg(frame: SampledFrame) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(frame.pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _add_totals(session: Session, job_id: str, **increments: int) -> None:
    row = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    totals = dict(row.result or {})
    for key, amount in increments.items():
        totals[key] = int(totals.get(key, 0)) + amount
    row.result = totals


def _store(job: JobContext, project_id: str, frame: SampledFrame) -> None:
    """One frame: its blob, then its image row, item record and totals in one transaction."""
    payload = job.payload
    name = frame_filename(payload["video_basename"], frame.index)
    data = _jpeg(frame)
    height, width = frame.pixels.shape[:2]
    key = new_blob_key(job.organization_id, project_id, name)
    job.server.blobs.write_bytes(key, data)
    item_key = str(frame.index)
    blob_used = False
    try:
        with job.db.session() as session:
            project = session.get(Project, project_id)
            if project is None:
                raise SourceGone("The target dataset was deleted during the extraction")
            result: dict[str, Any] = {"filename": name, "seconds": round(frame.seconds, 6)}
            # Recorded before add_image (its result filled in below): a frame already recorded
            # stops here, and the write opens SQLite's transaction before add_image's SAVEPOINT,
            # whose RELEASE would otherwise commit the image row on its own (pysqlite begins
            # lazily).
            job.record_item_in(session, item_key, ok=True)
            try:
                image = add_image(
                    session, project, job.organization_id,
                    filename=name, folder=payload["folder_path"], key=key, size=len(data),
                    mime_type="image/jpeg", width=width, height=height,
                )  # fmt: skip
                result["image_id"] = image.id
            except Conflict:
                result["skipped"] = "exists"
            session.execute(
                update(JobItem)
                .where(JobItem.job_id == job.job_id, JobItem.item_key == item_key)
                .values(result=result)
            )
            written = "image_id" in result
            _add_totals(
                session, job.job_id, frames_extracted=int(written), frames_skipped=int(not written)
            )
        blob_used = written
    except IntegrityError:
        pass  # another run of this job recorded the frame first
    finally:
        if not blob_used:
            job.server.blobs.delete(key)


def _release_video(job: JobContext) -> bool:
    """Delete the uploaded video unless another pending or running extraction uses it."""
    key = job.payload["gcs_path"]
    with job.db.session() as session:
        waiting = session.scalars(
            select(Job.payload).where(
                Job.kind == JOB_KIND,
                Job.organization_id == job.organization_id,
                Job.status.in_(("pending", "running")),
                Job.id != job.job_id,
            )
        ).all()
    if any((other or {}).get("gcs_path") == key for other in waiting):
        return False
    job.server.blobs.delete(key)
    return True


@handler(JOB_KIND)
def run_video_extract(job: JobContext) -> dict[str, Any]:
    payload = job.payload
    video = job.server.blobs.path(payload["gcs_path"])
    if not video.is_file():
        raise SourceGone("The uploaded video was deleted before its frames were extracted")
    with job.db.session() as session:
        project_id = session.scalar(select(Job.project_id).where(Job.id == job.job_id))
    if project_id is None:
        raise SourceGone("The target dataset was deleted before its frames were extracted")
    done = job.done_items()
    sampled = 0
    for frame in sample_frames(
        video,
        payload["fps"],
        payload.get("start_seconds") or 0.0,
        payload.get("end_seconds"),
        payload.get("max_frames"),
    ):
        job.heartbeat()
        sampled += 1
        if str(frame.index) not in done:
            _store(job, project_id, frame)
    job.set_total(sampled)
    deleted = _release_video(job)
    with job.db.session() as session:
        row = session.get(Job, job.job_id)
        totals = {
            **(row.result or {}),
            "folder_path": payload["folder_path"],
            "dataset_id": project_id,
            "frames_sampled": sampled,
            "video_deleted": deleted,
        }
    logger.info("job %s extracted %s frames", job.job_id, totals.get("frames_extracted"))
    return totals
