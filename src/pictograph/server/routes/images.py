"""Images: signed upload URL, register, metadata, bytes, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from pictograph.server.errors import Invalid, NotFound, UnsupportedMediaType
from pictograph.server.routes.deps import Caller, Ctx
from pictograph.server.services import images as image_service

router = APIRouter(tags=["images"])

REGISTER_FIELDS = (
    "dataset_id",
    "filename",
    "gcs_bucket",
    "gcs_path",
    "gcs_uri",
    "folder_path",
    "file_size",
    "mime_type",
    "image_width",
    "image_height",
    "display_name",
)


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_id: str
    filename: str
    folder_path: str | None = "/"
    content_type: str | None = None


@router.post("/images/upload-url")
def upload_url(body: UploadUrlRequest, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    ttl = ctx.settings.signed_url_ttl_seconds
    with ctx.db.session() as session:
        ticket = image_service.prepare_upload(
            session,
            caller,
            dataset_id=body.dataset_id,
            filename=body.filename,
            folder_path=body.folder_path,
            content_type=body.content_type,
            ttl_seconds=ttl,
        )
    return {
        "upload_url": ctx.blob_url("PUT", ticket.key, ticket.content_type),
        "method": "PUT",
        "headers": {"Content-Type": ticket.content_type},
        "content_type": ticket.content_type,
        "gcs_bucket": image_service.BUCKET,
        "gcs_path": ticket.key,
        "gcs_uri": f"{image_service.BUCKET}://{ticket.key}",
        "dataset_id": ticket.dataset_id,
        "filename": ticket.filename,
        "folder_path": ticket.folder_path,
        "max_bytes": ctx.settings.max_upload_bytes,
        "expires_in": ttl,
        "expires_at": ticket.expires_at.isoformat(),
    }


async def _register_fields(request: Request) -> dict[str, Any]:
    """The register form (what the published client sends) or the same fields as JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = await request.json()
        except ValueError as error:
            raise Invalid("Request body is not valid JSON", loc=[]) from error
        if not isinstance(data, dict):
            raise Invalid("Request body must be an object", loc=[])
        return {key: data.get(key) for key in REGISTER_FIELDS}
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return {key: form.get(key) for key in REGISTER_FIELDS}
    raise UnsupportedMediaType(
        "register takes a form (application/x-www-form-urlencoded) or a JSON body"
    )


@router.post("/images/register", status_code=201)
async def register(request: Request, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    fields = await _register_fields(request)
    base_url = ctx.settings.base_url

    def run() -> dict[str, Any]:
        with ctx.db.session() as session:
            image = image_service.register_image(
                session, ctx.blobs, caller, form=fields, max_bytes=ctx.settings.max_upload_bytes
            )
            payload = image_service.image_payload(image, base_url)
        return payload

    payload = await run_in_threadpool(run)
    return {"image_id": payload["id"], "image": payload, "success": True}


@router.get("/images/{image_id}/metadata")
def image_metadata(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        image = image_service.get_image(session, caller, image_id)
        payload = image_service.image_payload(image, ctx.settings.base_url)
    return {"image": payload}


@router.get("/images/{image_id}")
def image_bytes(image_id: str, ctx: Ctx, caller: Caller) -> StreamingResponse:
    with ctx.db.session() as session:
        image = image_service.get_image(session, caller, image_id)
        key, filename, mime = image.storage_key, image.filename, image.mime_type
    if not ctx.blobs.exists(key):
        raise NotFound(f"The stored file of image {image_id!r} is missing")
    return StreamingResponse(
        ctx.blobs.read_chunks(key),
        media_type=mime or "application/octet-stream",
        headers={
            "Content-Length": str(ctx.blobs.size(key)),
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, max-age=2592000",
        },
    )


@router.delete("/images/{image_id}")
def delete_image(
    image_id: str, ctx: Ctx, caller: Caller, permanent: bool = False
) -> dict[str, Any]:
    with ctx.db.session() as session:
        result = image_service.delete_image(session, caller, image_id, permanent=permanent)
    image_service.purge_blobs(ctx.blobs, result.storage_keys)
    return result.summary
