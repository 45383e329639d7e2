"""Videos: the upload ticket, probe figures and frame-extraction jobs.

Also the video formats both sides accept: the SDK refuses anything else before a request,
the server answers 415. Each model carries the union of the documented fields and those the
published hosted client reads (``native_fps`` next to ``fps``, for one), so either client
parses our server's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VIDEO_CONTENT_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".ts": "video/mp2t",
    ".wmv": "video/x-ms-wmv",
    ".flv": "video/x-flv",
    ".3gp": "video/3gpp",
    ".ogv": "video/ogg",
}
"""Lower-case file suffix → the MIME type an upload of it is sent with."""

VideoJobStatus = Literal["processing", "complete", "failed"]
"""``processing`` (queued or running) → ``complete`` or ``failed``."""


class VideoUploadInfo(BaseModel):
    """Where an uploaded video lives: pass ``gcs_path`` to ``probe`` and ``extract_frames``."""

    model_config = ConfigDict(extra="ignore")

    upload_url: str
    gcs_path: str
    gcs_uri: str
    video_id: str | None = None
    filename: str | None = None
    content_type: str | None = None
    dataset_id: str | None = None
    folder_path: str | None = None
    max_bytes: int | None = Field(default=None, description="Largest video the server accepts.")
    expires_at: datetime | None = Field(
        default=None, description="When ``upload_url`` stops accepting the bytes."
    )


class VideoMetadata(BaseModel):
    """An uploaded video's stream figures, read by the server (FFmpeg)."""

    model_config = ConfigDict(extra="ignore")

    duration_seconds: float = Field(ge=0.0)
    fps: float = Field(ge=0.0, description="Average frame rate of the video stream.")
    native_fps: float | None = Field(default=None, description="The same as ``fps``.")
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    codec: str | None = None
    frame_count: int = Field(ge=0)
    gcs_path: str | None = None


class VideoExtractionJob(BaseModel):
    """A frame-extraction job as it stands; ``folder_path`` is where its frames land."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    status: VideoJobStatus
    progress: int = Field(default=0, ge=0, le=100, description="Percent of the frames done.")
    frames_extracted: int = Field(
        default=0, ge=0, description="Frames written as new images by this job."
    )
    frames_skipped: int = Field(
        default=0, ge=0, description="Frames whose name already existed in the folder."
    )
    total_frames: int = Field(default=0, ge=0, description="Frames the job expects to sample.")
    error: str | None = None
    folder_path: str | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    gcs_path: str | None = None
    fps: float | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    max_frames: int | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("complete", "failed")
