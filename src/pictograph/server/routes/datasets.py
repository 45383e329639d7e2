"""Datasets: the read side of projects. List, get by name or id, and the bulk download listing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import images as image_service
from pictograph.server.services import projects as project_service

router = APIRouter(tags=["datasets"])

MAX_EMBEDDED_IMAGES = 10_000
ImagesLimit = Annotated[int, Query(ge=1, le=MAX_EMBEDDED_IMAGES)]


@router.get("/datasets/")
@router.get("/datasets", include_in_schema=False)
def list_datasets(
    ctx: Ctx, caller: Caller, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    with ctx.db.session() as session:
        views, total = project_service.list_projects(session, caller, limit, offset)
        datasets = [project_service.project_payload(view) for view in views]
    return {"datasets": datasets, "total": total, "limit": limit, "offset": offset}


@router.get("/datasets/by-name/{name}")
def get_dataset_by_name(
    name: str,
    ctx: Ctx,
    caller: Caller,
    include_images: bool = False,
    images_limit: ImagesLimit = 1000,
    images_offset: Offset = 0,
) -> dict[str, Any]:
    base_url = ctx.settings.base_url
    with ctx.db.session() as session:
        view = project_service.get_dataset(
            session,
            caller,
            name,
            include_images=include_images,
            images_limit=images_limit,
            images_offset=images_offset,
        )
        dataset = project_service.project_payload(view)
        if view.images is not None:
            dataset["images"] = [
                image_service.image_payload(image, base_url) for image in view.images
            ]
            dataset["images_total"] = view.images_total
            dataset["images_limit"] = images_limit
            dataset["images_offset"] = images_offset
    return {"dataset": dataset}


@router.get("/datasets/by-name/{name}/download")
def download_listing(
    name: str,
    ctx: Ctx,
    caller: Caller,
    mode: str = "full",
    status_filter: str | None = None,
    limit: ImagesLimit = MAX_EMBEDDED_IMAGES,
    offset: Offset = 0,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        listing = image_service.download_listing(
            session,
            caller,
            name,
            mode=mode,
            status_filter=status_filter,
            limit=limit,
            offset=offset,
        )
        items = []
        for image in listing.images:
            item: dict[str, Any] = {
                "image_id": image.id,
                "id": image.id,
                "filename": image.filename,
                "virtual_folder_path": image.virtual_folder_path,
                "status": image.status,
                "annotation_count": int(image.annotation_count or 0),
                "file_size": int(image.file_size or 0),
                "mime_type": image.mime_type,
                "width": image.width,
                "height": image.height,
                "image_url": None,
                "annotation_url": None,
            }
            if mode != "annotations_only":
                item["image_url"] = ctx.blob_url("GET", image.storage_key)
            if mode != "images_only" and image.annotation_count:
                item["annotation_url"] = image_service.annotation_file_path(image.id)
            items.append(item)
        project = listing.project
    return {
        "dataset_id": project.id,
        "dataset_name": project.name,
        "mode": mode,
        "status_filter": status_filter,
        "items": items,
        "count": len(items),
        "total": listing.total,
        "limit": limit,
        "offset": offset,
        "expires_in": ctx.settings.signed_url_ttl_seconds,
    }


@router.get("/datasets/{dataset_id}")
def get_dataset_by_id(dataset_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        view = project_service.get_project_by_id(session, caller, dataset_id)
        dataset = project_service.project_payload(view)
    return {"dataset": dataset}
