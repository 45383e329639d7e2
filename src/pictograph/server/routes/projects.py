"""Projects: the write side of datasets. Create, update (class config), delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import images as image_service
from pictograph.server.services import projects as project_service

router = APIRouter(tags=["projects"])


class CreateProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    annotation_types: list[str] | None = None
    classes: list[dict[str, Any]] | None = None


class UpdateProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    annotation_types: list[str] | None = None
    classes: list[dict[str, Any]] | None = None


@router.get("/projects/")
@router.get("/projects", include_in_schema=False)
def list_projects(
    ctx: Ctx, caller: Caller, limit: Limit = 50, offset: Offset = 0
) -> dict[str, Any]:
    with ctx.db.session() as session:
        views, total = project_service.list_projects(session, caller, limit, offset)
        items = [project_service.project_payload(view) for view in views]
    return {"projects": items, "total": total, "limit": limit, "offset": offset}


@router.get("/projects/{name}")
def get_project(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        project = project_service.project_payload(
            project_service.get_project(session, caller, name)
        )
    return {"project": project}


@router.post("/projects/", status_code=201)
@router.post("/projects", status_code=201, include_in_schema=False)
def create_project(body: CreateProject, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        view = project_service.create_project(
            session,
            caller,
            name=body.name,
            description=body.description,
            annotation_types=body.annotation_types,
            classes=body.classes,
        )
        project = project_service.project_payload(view)
    return {"project": project}


@router.patch("/projects/{name}")
def update_project(name: str, body: UpdateProject, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    with ctx.db.session() as session:
        view = project_service.update_project(session, caller, name, changes)
        project = project_service.project_payload(view)
    return {"project": project, "annotations_removed": view.removed_annotations}


@router.delete("/projects/{name}")
def delete_project(name: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        result = project_service.delete_project(session, caller, name)
    # Bytes go only once the rows are committed away: a failed commit leaves everything intact.
    result.summary["blobs_deleted"] = image_service.purge_blobs(ctx.blobs, result.storage_keys)
    return {"deleted": result.summary}
