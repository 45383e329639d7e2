"""Bulk image operations on one dataset: move, copy, delete, update."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pictograph.server.routes.deps import Caller, Ctx
from pictograph.server.services import batch as batch_service
from pictograph.server.services import images as image_service

router = APIRouter(tags=["batch"])

ImageIds = Annotated[list[str], Field(min_length=1, max_length=batch_service.MAX_BATCH)]


class _Batch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_name: str
    image_ids: ImageIds


class MoveBody(_Batch):
    target_folder_path: str = "/"


class CopyBody(_Batch):
    target_folder_path: str = "/"
    duplicate_handling: Literal["rename", "skip", "overwrite"] = "rename"
    copy_annotations: bool = False


class DeleteBody(_Batch):
    permanent: bool = False


class UpdateBody(_Batch):
    updates: dict[str, Any]


@router.post("/batch/images/move")
def move(body: MoveBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = batch_service.move_images(
            session,
            caller,
            dataset_name=body.dataset_name,
            image_ids=body.image_ids,
            target_folder_path=body.target_folder_path,
        )
    return batch_service.batch_payload(outcome)


@router.post("/batch/images/copy")
def copy(body: CopyBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = batch_service.copy_images(
            session,
            ctx.blobs,
            caller,
            dataset_name=body.dataset_name,
            image_ids=body.image_ids,
            target_folder_path=body.target_folder_path,
            duplicate_handling=body.duplicate_handling,
            copy_annotations=body.copy_annotations,
        )
    image_service.purge_blobs(ctx.blobs, outcome.purge_keys)
    return batch_service.batch_payload(outcome)


@router.post("/batch/images/delete")
def delete(body: DeleteBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = batch_service.delete_images(
            session,
            caller,
            dataset_name=body.dataset_name,
            image_ids=body.image_ids,
            permanent=body.permanent,
        )
    image_service.purge_blobs(ctx.blobs, outcome.purge_keys)
    return batch_service.batch_payload(outcome)


@router.patch("/batch/images/update")
def update(body: UpdateBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        outcome = batch_service.update_images(
            session,
            caller,
            dataset_name=body.dataset_name,
            image_ids=body.image_ids,
            updates=body.updates,
        )
    return batch_service.batch_payload(outcome)
