"""Video: upload by signed URL, probe, extract frames into a dataset (a durable job)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx
from pictograph.server.services import video as video_service

router = APIRouter(tags=["video"])


class UploadUrlRequest(BaseModel):
    """The published client sends ``filename`` and ``content_type``; ours adds the dataset."""

    model_config = ConfigDict(extra="ignore")

    filename: Any = None
    content_type: Any = None
    dataset_id: Any = None
    folder_path: Any = None


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    gcs_path: str


@router.post("/video/upload-url")
def upload_url(body: UploadUrlRequest, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        ticket = video_service.prepare_upload(
            session,
            caller,
            filename=body.filename,
            content_type=body.content_type,
            dataset_id=body.dataset_id,
            folder_path=body.folder_path,
            ttl_seconds=ctx.settings.signed_url_ttl_seconds,
        )
    return video_service.ticket_json(ctx, ticket)


@router.post("/video/probe")
def probe(body: ProbeRequest, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return video_service.probe_video(ctx, caller, body.gcs_path)


@router.post("/video/extract-frames", status_code=201)
def extract_frames(
    body: video_service.ExtractRequest, ctx: Ctx, caller: Caller
) -> dict[str, Any]:
    return video_service.create_extraction(ctx, caller, body)


@router.get("/video/extract-frames/{job_id}")
def get_extraction(job_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return video_service.get_extraction(ctx, caller, job_id)
