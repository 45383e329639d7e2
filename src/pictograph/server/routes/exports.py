"""Exports: create (a durable job), list, get, download URL, delete — the published client's paths."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import exports as export_service
from pictograph.server.services.images import purge_blobs
from pictograph.server.services.projects import iso

router = APIRouter(tags=["exports"])


class CreateExport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_name: str
    name: str
    format: str = "pictograph"
    include_images: bool = False
    class_filter: list[Any] | None = None
    status_filter: str | None = None


@router.post("/exports/", status_code=201)
@router.post("/exports", status_code=201, include_in_schema=False)
def create_export(body: CreateExport, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        view = export_service.create_export(
            session,
            caller,
            dataset_name=body.dataset_name,
            name=body.name,
            format=body.format,
            include_images=body.include_images,
            class_filter=body.class_filter,
            status_filter=body.status_filter,
        )
        export = export_service.export_payload(view, None)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return {"export": export}


@router.get("/exports/")
@router.get("/exports", include_in_schema=False)
def list_exports(
    ctx: Ctx,
    caller: Caller,
    limit: Limit = 100,
    offset: Offset = 0,
    dataset_name: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        views, total = export_service.list_exports(
            session, caller, dataset_name=dataset_name, status=status, limit=limit, offset=offset
        )
        exports = [export_service.export_payload(view, ctx) for view in views]
    return {"exports": exports, "total": total, "limit": limit, "offset": offset}


@router.get("/exports/{dataset_name}/{export_name}")
def get_export(dataset_name: str, export_name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        view = export_service.get_export(session, caller, dataset_name, export_name)
        export = export_service.export_payload(view, ctx)
    return {"export": export}


@router.get("/exports/{dataset_name}/{export_name}/download")
def download_export(
    dataset_name: str, export_name: str, ctx: Ctx, caller: Caller
) -> dict[str, Any]:
    """A fresh signed GET URL for the ZIP (the client streams it from the blob endpoint)."""
    with ctx.db.session() as session:
        view = export_service.download_target(session, caller, dataset_name, export_name)
        export = view.export
        url, expires = export_service.download_url(ctx, export.blob_key or "")
        body = {
            "download_url": url,
            "expires_in": export_service.DOWNLOAD_URL_TTL_SECONDS,
            "expires_at": iso(expires),
            "filename": f"{export.name}.zip",
            "file_size": export.file_size,
            "export_id": export.id,
            "format": export.format,
        }
    return body


@router.delete("/exports/{dataset_name}/{export_name}")
def delete_export(dataset_name: str, export_name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        summary = export_service.delete_export(session, caller, dataset_name, export_name)
    # The ZIP goes only once the record is committed away.
    key = summary.pop("blob_key")
    existed = ctx.blobs.exists(key)
    summary["blob_deleted"] = existed and bool(purge_blobs(ctx.blobs, [key]))
    return summary
