"""Annotations of one image: read, full-overwrite save, delete, and the JSON file download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.errors import Invalid
from pictograph.server.routes.deps import Caller, Ctx
from pictograph.server.services import annotations as annotation_service

router = APIRouter(tags=["annotations"])


class SaveBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_id: str | None = None
    annotations: list[Any]


def _saved(outcome: annotation_service.SaveOutcome) -> dict[str, Any]:
    return {
        "image_id": outcome.image_id,
        "previous_count": outcome.previous_count,
        "new_count": outcome.new_count,
        "annotation_count": outcome.new_count,
        "status": outcome.status,
        "stage": outcome.stage,
    }


@router.get("/annotations/{image_id}")
def get_annotations(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        image = annotation_service.get_annotations(session, caller, image_id)
        annotations = list(image.annotations or [])
        status = image.status
    return {
        "image_id": image_id,
        "annotations": annotations,
        "annotation_count": len(annotations),
        "status": status,
    }


@router.get("/annotations/{image_id}/file")
def annotation_file(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        document = annotation_service.annotation_document(
            annotation_service.get_annotations(session, caller, image_id)
        )
    return document


@router.post("/annotations/{image_id}")
def save_annotations(image_id: str, body: SaveBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = annotation_service.save_annotations(
            session, caller, image_id, body.annotations, body_image_id=body.image_id
        )
    return _saved(outcome)


@router.post("/annotations/")
@router.post("/annotations", include_in_schema=False)
def save_annotations_by_body(body: SaveBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The Annotations page's REST form: the image id travels in the body."""
    if not body.image_id:
        raise Invalid("image_id is required", loc=["image_id"])
    with ctx.db.session() as session:
        outcome = annotation_service.save_annotations(
            session, caller, body.image_id, body.annotations
        )
    return _saved(outcome)


@router.delete("/annotations/{image_id}")
def delete_annotations(image_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = annotation_service.delete_annotations(session, caller, image_id)
    return {
        "image_id": outcome.image_id,
        "deleted_count": outcome.previous_count,
        "previous_count": outcome.previous_count,
        "new_count": 0,
        "status": outcome.status,
        "stage": outcome.stage,
    }
