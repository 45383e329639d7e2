"""Videos: the upload ticket, probing, and starting and reading frame-extraction jobs.

Rules kept here:

- A video upload is a blob under ``orgs/{org}/videos/{uuid}/{safe filename}``, keyed by the
  organization only (the published client names no dataset when it asks for the URL). The
  blob endpoint gives such keys ``max_video_bytes`` instead of the image limit.
- A ``gcs_path`` is usable only when it is such a key of the caller's organization and its
  bytes are there; anything else is 404, so another organization's uploads stay invisible.
- Requests come in two shapes, both accepted: the documented one (``dataset_id``,
  ``folder_path``, ``fps``, ``start_seconds``, ``end_seconds``, ``max_frames``) and the
  published hosted client's (``dataset_name``, ``parent_folder_path`` + ``folder_name``,
  ``sample_fps``). Answers carry the fields of both.
- Frame extraction is a durable job (:mod:`pictograph.server.jobs.video_job`); it costs no
  credits. Its wire status is the hosted one: ``processing``, ``complete`` or ``failed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy.orm import Session

from pictograph.models.video import VIDEO_CONTENT_TYPES
from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Job, Project, as_utc
from pictograph.server.errors import Invalid, NotFound, UnsupportedMediaType
from pictograph.server.jobs.records import enqueue, get_job
from pictograph.server.roles import require
from pictograph.server.services import projects
from pictograph.server.services.images import (
    BUCKET,
    extension_of,
    new_blob_key,
    normalize_folder,
    validate_filename,
)
from pictograph.server.storage.local import LocalBlobStore
from pictograph.vision.video import VideoError, VideoInfo, planned_frame_count, probe

JOB_KIND = "video_extract"
WIRE_STATUS: dict[str, str] = {
    "pending": "processing",
    "running": "processing",
    "completed": "complete",
    "failed": "failed",
    "cancelled": "failed",
}
"""Job status → the status the video API reports."""
_VIDEO_KEY = re.compile(r"^orgs/(?P<org>[^/]+)/videos/(?P<video_id>[0-9a-f]{32})/[A-Za-z0-9._-]+$")


def is_video_key(key: str) -> bool:
    """Whether ``key`` is a video upload's blob (the blob endpoint sizes its limit by this)."""
    return _VIDEO_KEY.match(key) is not None


def frame_filename(video_basename: str, frame_index: int) -> str:
    """The documented frame name; ``frame_index`` is the frame's index in the source video."""
    return f"{video_basename}_{frame_index:06d}.jpg"


# ───────────── upload ─────────────


@dataclass
class VideoTicket:
    key: str
    video_id: str
    filename: str
    content_type: str
    dataset_id: str | None
    folder_path: str
    expires_at: datetime


def prepare_upload(
    session: Session,
    principal: Principal,
    *,
    filename: Any,
    content_type: Any,
    dataset_id: Any,
    folder_path: Any,
    ttl_seconds: int,
) -> VideoTicket:
    """Check the name and type, and choose the blob key the signed URL will write."""
    require(principal.role, "member", "Uploading videos")
    filename = validate_filename(filename, ["filename"])
    ext = extension_of(filename)
    if ext not in VIDEO_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported video extension {ext or '(none)'!r}; supported: "
            + " ".join(VIDEO_CONTENT_TYPES),
            errors=[{"loc": ["filename"], "msg": "not a video extension", "type": "value_error"}],
        )
    if content_type in (None, ""):
        content_type = VIDEO_CONTENT_TYPES[ext]
    elif (
        not isinstance(content_type, str)
        or not content_type.startswith("video/")
        or len(content_type) > 100
    ):
        raise UnsupportedMediaType(
            f"Unsupported content type {content_type!r}; expected a video/* type",
            errors=[
                {"loc": ["content_type"], "msg": "expected a video/* type", "type": "value_error"}
            ],
        )
    folder = normalize_folder(folder_path, ["folder_path"])
    project_id = None
    if dataset_id is not None:
        project_id = projects.find_by_id(session, principal, dataset_id).id
    # The image key rules make the name key-safe; a video key swaps the dataset part out.
    _prefix, video_id, safe_name = new_blob_key(
        principal.organization_id, "videos", filename
    ).rsplit("/", 2)
    return VideoTicket(
        key=f"orgs/{principal.organization_id}/videos/{video_id}/{safe_name}",
        video_id=video_id,
        filename=filename,
        content_type=content_type,
        dataset_id=project_id,
        folder_path=folder,
        expires_at=datetime.now(timezone.utc) + timedelta(seconds=ttl_seconds),
    )


def ticket_json(ctx: ServerContext, ticket: VideoTicket) -> dict[str, Any]:
    return {
        "upload_url": ctx.blob_url("PUT", ticket.key, ticket.content_type),
        "method": "PUT",
        "headers": {"Content-Type": ticket.content_type},
        "content_type": ticket.content_type,
        "gcs_bucket": BUCKET,
        "gcs_path": ticket.key,
        "gcs_uri": f"{BUCKET}://{ticket.key}",
        "video_id": ticket.video_id,
        "filename": ticket.filename,
        "dataset_id": ticket.dataset_id,
        "folder_path": ticket.folder_path,
        "max_bytes": ctx.settings.max_video_bytes,
        "expires_in": ctx.settings.signed_url_ttl_seconds,
        "expires_at": ticket.expires_at.isoformat(),
    }


# ───────────── the uploaded video ─────────────


def uploaded_video(blobs: LocalBlobStore, principal: Principal, gcs_path: str) -> tuple[str, Path]:
    """The key and file behind ``gcs_path`` (or its ``local://`` URI); 404 unless it is a
    video upload of the caller's organization whose bytes are stored."""
    key = gcs_path.removeprefix(f"{BUCKET}://")
    match = _VIDEO_KEY.match(key)
    missing = NotFound(f"No uploaded video at gcs_path {gcs_path!r}")
    if match is None or match["org"] != principal.organization_id:
        raise missing
    path = blobs.path(key)
    if not path.is_file():
        raise missing
    return key, path


def probe_file(path: Path) -> VideoInfo:
    """The video's figures; 415 when FFmpeg cannot read it."""
    try:
        return probe(path)
    except VideoError as error:
        raise UnsupportedMediaType(
            f"The uploaded file is not a supported video: {error}",
            errors=[{"loc": ["gcs_path"], "msg": "not a readable video", "type": "value_error"}],
        ) from error


def metadata_json(info: VideoInfo, key: str) -> dict[str, Any]:
    return {**info.as_dict(), "native_fps": info.fps, "gcs_path": key}


def probe_video(ctx: ServerContext, principal: Principal, gcs_path: str) -> dict[str, Any]:
    key, path = uploaded_video(ctx.blobs, principal, gcs_path)
    return metadata_json(probe_file(path), key)


# ───────────── extraction ─────────────

Positive = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]


class ExtractRequest(BaseModel):
    """Either request shape (see the module docstring); types and ranges checked per field."""

    model_config = ConfigDict(extra="ignore")

    gcs_path: StrictStr
    dataset_id: StrictStr | None = None
    dataset_name: StrictStr | None = None
    folder_path: StrictStr | None = None
    folder_name: StrictStr | None = None
    parent_folder_path: StrictStr | None = None
    fps: Positive | None = None
    sample_fps: Positive | None = None
    start_seconds: Seconds | None = None
    end_seconds: Positive | None = None
    max_frames: Annotated[int, Field(strict=True, ge=1)] | None = None


def _dataset(session: Session, principal: Principal, request: ExtractRequest) -> Project:
    if request.dataset_id is not None:
        return projects.find_by_id(session, principal, request.dataset_id)
    if request.dataset_name is not None:
        return projects.find_by_name(session, principal, request.dataset_name)
    raise Invalid("dataset_id (or dataset_name) is required", loc=["dataset_id"])


def _folder(request: ExtractRequest) -> str:
    """``folder_path``, or the published form's ``parent_folder_path`` + ``folder_name``."""
    if request.folder_name is None:
        return normalize_folder(request.folder_path, ["folder_path"])
    if not request.folder_name.strip().strip("/"):
        raise Invalid("folder_name must not be empty", loc=["folder_name"])
    parent = normalize_folder(request.parent_folder_path, ["parent_folder_path"])
    return normalize_folder(f"{parent}/{request.folder_name}", ["folder_name"])


def create_extraction(
    ctx: ServerContext, principal: Principal, request: ExtractRequest
) -> dict[str, Any]:
    """Check everything that can fail before any frame is written, then enqueue the job."""
    require(principal.role, "member", "Extracting video frames")
    fps = request.fps if request.fps is not None else (request.sample_fps or 1.0)
    start = request.start_seconds or 0.0
    end = request.end_seconds
    if end is not None and end <= start:
        raise Invalid(
            f"end_seconds ({end:g}) must be greater than start_seconds ({start:g})",
            loc=["end_seconds"],
        )
    folder = _folder(request)
    key, video = uploaded_video(ctx.blobs, principal, request.gcs_path)
    with ctx.db.session() as session:
        project = _dataset(session, principal, request)
        project_id, dataset_name = project.id, project.name
    info = probe_file(video)
    if start >= info.duration_seconds:
        raise Invalid(
            f"start_seconds ({start:g}) is past the end of the video "
            f"({info.duration_seconds:g} s)",
            loc=["start_seconds"],
        )
    payload = {
        "gcs_path": key,
        "video_basename": video.stem,
        "dataset_name": dataset_name,
        "folder_path": folder,
        "fps": fps,
        "start_seconds": request.start_seconds,
        "end_seconds": end,
        "max_frames": request.max_frames,
    }
    total = planned_frame_count(info, fps, start, end, request.max_frames)
    with ctx.db.session() as session:
        job = enqueue(
            session, principal.organization_id, JOB_KIND, payload, total=total,
            project_id=project_id,
        )  # fmt: skip
        job.result = {"frames_extracted": 0, "frames_skipped": 0}
        session.flush()
        body = extraction_json(job)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return body


def get_extraction(ctx: ServerContext, principal: Principal, job_id: str) -> dict[str, Any]:
    missing = f"Frame-extraction job {job_id!r} not found"
    if projects.has_nul(job_id):
        raise NotFound(missing)
    with ctx.db.session() as session:
        return extraction_json(get_job(session, principal.organization_id, job_id, JOB_KIND))


def extraction_json(job: Job) -> dict[str, Any]:
    """The job in the union of the documented and the published ``VideoExtractionJob``."""
    payload = dict(job.payload or {})
    totals = dict(job.result or {})
    status = WIRE_STATUS[job.status]
    total = int(job.progress_total or 0)
    finished = int(job.progress_done or 0) + int(job.progress_failed or 0)
    if status == "complete":
        progress = 100
    else:
        progress = min(99, finished * 100 // total) if total else 0
    error = job.error_message
    if job.status == "cancelled" and not error:
        error = "The extraction was cancelled"
    return {
        "job_id": job.id,
        "id": job.id,
        "status": status,
        "state": job.status,
        "progress": progress,
        "frames_extracted": int(totals.get("frames_extracted", 0)),
        "frames_skipped": int(totals.get("frames_skipped", 0)),
        "total_frames": total,
        "error": error,
        "folder_path": payload.get("folder_path"),
        "dataset_id": job.project_id,
        "dataset_name": payload.get("dataset_name"),
        "gcs_path": payload.get("gcs_path"),
        "fps": payload.get("fps"),
        "start_seconds": payload.get("start_seconds"),
        "end_seconds": payload.get("end_seconds"),
        "max_frames": payload.get("max_frames"),
        "video_deleted": bool(totals.get("video_deleted", False)),
        "created_at": as_utc(job.created_at),
        "started_at": as_utc(job.started_at) if job.started_at else None,
        "finished_at": as_utc(job.finished_at) if job.finished_at else None,
    }
