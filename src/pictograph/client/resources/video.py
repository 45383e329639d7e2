"""``client.video``: upload a video, probe it, extract its frames into a dataset.

Pictograph annotates frames, not videos: ``extract_frames`` samples the uploaded video at
``fps`` and writes each sampled frame into a dataset folder as a regular JPEG image named
``{video_basename}_{frame_index:06d}.jpg`` (the index is the frame's in the source video).
Extraction is a durable job on the server: with ``wait=True`` (default) the call polls until
it is ``complete`` (returned) or ``failed`` (:class:`ApiError`); a poll that outlasts
``timeout`` raises :class:`PollTimeoutError` with the job's id — the job keeps running. The
uploaded video is deleted once an extraction of it completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pictograph.client.resources import Resource, check_polling, path_segment
from pictograph.exceptions import ApiError, PollTimeoutError, ValidationError
from pictograph.models.video import (
    VIDEO_CONTENT_TYPES,
    VideoExtractionJob,
    VideoMetadata,
    VideoUploadInfo,
)

_PATH = "/api/v1/developer/video"
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_TIMEOUT = 1800.0


class Video(Resource):
    def upload(
        self, file_path: str | Path, dataset_id: str, folder_path: str = "/"
    ) -> VideoUploadInfo:
        """Upload a local video (up to the server's limit, 10 GB by default); pass the
        returned ``gcs_path`` to :meth:`probe` and :meth:`extract_frames`.

        Raises ValidationError before any request for a file that is not a video by its
        extension, NotFoundError for an unknown dataset, ApiError (413) for a file over the
        limit.
        """
        path = Path(file_path).expanduser()
        content_type = VIDEO_CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise ValidationError(
                f"Unsupported video extension {path.suffix or '(none)'!r} for {path.name}; "
                f"supported: {', '.join(VIDEO_CONTENT_TYPES)}",
                error_code="unsupported_media_type",
                errors=[
                    {"loc": ["file_path"], "msg": "not a video extension", "type": "value_error"}
                ],
            )
        if not path.is_file():
            raise FileNotFoundError(f"No such video file: {path}")
        body = self._transport.request(
            "POST",
            f"{_PATH}/upload-url",
            json={
                "filename": path.name,
                "content_type": content_type,
                "dataset_id": dataset_id,
                "folder_path": folder_path,
            },
        )
        info = self._parse(VideoUploadInfo, body)
        self._transport.upload(info.upload_url, path, content_type=content_type)
        return info

    def probe(self, gcs_path: str) -> VideoMetadata:
        """Duration, frame rate, size, codec and frame count of an uploaded video.

        Raises NotFoundError for an unknown ``gcs_path``, ValidationError (415) for a file
        that is not a readable video.
        """
        body = self._transport.request("POST", f"{_PATH}/probe", json={"gcs_path": gcs_path})
        return self._parse(VideoMetadata, body)

    def extract_frames(
        self,
        gcs_path: str,
        dataset_id: str,
        folder_path: str = "/",
        fps: float = 1.0,
        start_seconds: float | None = None,
        end_seconds: float | None = None,
        max_frames: int | None = None,
        wait: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> VideoExtractionJob:
        """Sample ``fps`` frames per second of ``[start_seconds, end_seconds)`` (at most
        ``max_frames``) into ``folder_path`` of the dataset. Costs no credits.

        A frame whose name already exists in the folder is skipped (``frames_skipped``).
        Raises NotFoundError (video / dataset), ValidationError (422 for a bad value, naming
        the field; 415 for an unreadable video).
        """
        check_polling(poll_interval, timeout)
        body: dict[str, Any] = {
            "gcs_path": gcs_path,
            "dataset_id": dataset_id,
            "folder_path": folder_path,
            "fps": fps,
            "start_seconds": start_seconds,
            "end_seconds": end_seconds,
            "max_frames": max_frames,
        }
        response = self._transport.request("POST", f"{_PATH}/extract-frames", json=body)
        job = self._parse(VideoExtractionJob, response)
        if not wait:
            return job
        return self.wait_for_extraction(job.job_id, timeout=timeout, poll_interval=poll_interval)

    def get_extraction(self, job_id: str) -> VideoExtractionJob:
        body = self._transport.request("GET", f"{_PATH}/extract-frames/{path_segment(job_id)}")
        return self._parse(VideoExtractionJob, body)

    def wait_for_extraction(
        self,
        job_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        sleep: Callable[[float], None] = time.sleep,
    ) -> VideoExtractionJob:
        """Poll until the job is ``complete`` (returned) or ``failed`` (ApiError); raises
        PollTimeoutError (``job_id`` set) when ``timeout`` seconds pass first."""
        check_polling(poll_interval, timeout)
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_extraction(job_id)
            if job.status == "complete":
                return job
            if job.status == "failed":
                raise ApiError(
                    f"Frame extraction {job_id} failed: {job.error or 'no reason given'}",
                    response=job.model_dump(mode="json"),
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PollTimeoutError(
                    f"Frame extraction {job_id} did not finish within {timeout:g}s "
                    f"(status: {job.status}, {job.progress}%); it keeps running on the server — "
                    f"call client.video.wait_for_extraction({job_id!r}) later",
                    job_id=job_id,
                    timeout=timeout,
                )
            sleep(min(poll_interval, remaining))
