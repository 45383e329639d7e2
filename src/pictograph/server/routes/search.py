"""Search: images by visual similarity and by auto-tags (the published client's paths), plus the
tag taxonomy and the indexing status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pictograph.server.routes.deps import Caller, Ctx, Offset
from pictograph.server.services import search as search_service

router = APIRouter(tags=["search"])
Tags = Annotated[list[str] | None, Query()]
Results = Annotated[int, Query(ge=1)]
"""How many results; above the backend cap of 500 it is clamped, not refused."""


@router.get("/search/similar")
def similar(
    ctx: Ctx,
    caller: Caller,
    image_id: str,
    threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.6,
    limit: Results = 50,
    folder_path: str | None = None,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        results = search_service.similar(
            ctx, session, caller, image_id=image_id, threshold=threshold, limit=limit,
            folder_path=folder_path,
        )  # fmt: skip
    return {"results": results, "count": len(results)}


@router.get("/search/by-tags")
def by_tags(
    ctx: Ctx,
    caller: Caller,
    objects: Tags = None,
    scenes: Tags = None,
    attributes: Tags = None,
    dataset_name: str | None = None,
    limit: Results = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    filters = {
        "objects": search_service.parse_tags("objects", objects),
        "scenes": search_service.parse_tags("scenes", scenes),
        "attributes": search_service.parse_tags("attributes", attributes),
    }
    with ctx.db.session() as session:
        results = search_service.by_tags(
            session, caller, filters=filters, dataset_name=dataset_name, limit=limit,
            offset=offset,
        )  # fmt: skip
    return {"results": results, "count": len(results), "limit": limit, "offset": offset}


@router.get("/search/status")
def index_status(ctx: Ctx, caller: Caller, dataset_name: str | None = None) -> dict[str, Any]:
    with ctx.db.session() as session:
        return search_service.index_status(ctx, session, caller, dataset_name)


@router.get("/search/taxonomy")
def tag_taxonomy(caller: Caller) -> dict[str, Any]:
    return search_service.taxonomy_payload()
