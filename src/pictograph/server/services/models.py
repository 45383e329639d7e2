"""Trained models: list, get, download URL, soft delete.

- Listing hides ``archived`` models unless ``status="archived"`` is asked for; filters by
  dataset, status and model type (422 on an unknown value).
- Another organization's model reads as 404. Download is for ``ready`` models only (409
  otherwise); the answer carries a signed blob URL, the file's size and its MD5 (the SDK
  checks the bytes it streamed against it).
- Delete is admin and above (the published client says so) and archives: the row stays,
  the weights stay; deleting again is a no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import TrainedModel
from pictograph.server.errors import Conflict, NotFound, one_of
from pictograph.server.roles import require
from pictograph.server.services import projects
from pictograph.server.services.projects import iso
from pictograph.training import MODEL_TYPES as PIPELINE_MODEL_TYPES

MODEL_STATUSES: tuple[str, ...] = ("training", "ready", "failed", "archived")
MODEL_TYPES: tuple[str, ...] = tuple(dict.fromkeys(PIPELINE_MODEL_TYPES.values()))


def find(session: Session, principal: Principal, model_id: str) -> TrainedModel:
    model = session.scalar(
        select(TrainedModel).where(
            TrainedModel.id == model_id,
            TrainedModel.organization_id == principal.organization_id,
        )
    )
    if model is None:
        raise NotFound(f"Model {model_id!r} not found")
    return model


def list_models(
    session: Session,
    principal: Principal,
    *,
    dataset_name: str | None,
    status: str | None,
    model_type: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TrainedModel], int]:
    query = select(TrainedModel).where(TrainedModel.organization_id == principal.organization_id)
    if dataset_name is not None:
        project = projects.find_by_name(session, principal, dataset_name)
        query = query.where(TrainedModel.project_id == project.id)
    if status is not None:
        query = query.where(TrainedModel.status == one_of(status, MODEL_STATUSES, "status"))
    else:
        query = query.where(TrainedModel.status != "archived")
    if model_type is not None:
        query = query.where(
            TrainedModel.model_type == one_of(model_type, MODEL_TYPES, "model_type")
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(TrainedModel.created_at.desc(), TrainedModel.id).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


def download(
    ctx: ServerContext, session: Session, principal: Principal, model_id: str
) -> dict[str, Any]:
    model = find(session, principal, model_id)
    if model.status != "ready" or not model.blob_key:
        raise Conflict(
            f"Model {model.name!r} is {model.status}; only ready models can be downloaded",
            error_code="model_not_ready",
        )
    if not ctx.blobs.exists(model.blob_key):
        raise NotFound(f"The weights of model {model.name!r} are missing from storage")
    ttl = ctx.settings.signed_url_ttl_seconds
    return {
        "download_url": ctx.blob_url("GET", model.blob_key),
        "expires_in": ttl,
        "expires_at": iso(datetime.now(timezone.utc) + timedelta(seconds=ttl)),
        "filename": f"{model.name}.onnx",
        "file_size": model.file_size,
        "md5": model.md5,
        "model_id": model.id,
    }


def archive(session: Session, principal: Principal, model_id: str) -> TrainedModel:
    require(principal.role, "admin", "Deleting a model")
    model = find(session, principal, model_id)
    model.status = "archived"
    return model


def model_payload(model: TrainedModel) -> dict[str, Any]:
    """The published ``Model`` fields, plus the pipeline, the run and the file's size / MD5."""
    return {
        "id": model.id,
        "organization_id": model.organization_id,
        "name": model.name,
        "description": model.description,
        "model_type": model.model_type,
        "pipeline_type": model.pipeline_type,
        "architecture": model.architecture,
        "visibility": model.visibility,
        "status": model.status,
        "metrics": model.metrics,
        "class_mapping": model.class_mapping,
        "version": model.version,
        "parent_model_id": model.parent_model_id,
        "dataset_id": model.project_id,
        "training_run_id": model.training_run_id,
        "file_size": model.file_size,
        "md5": model.md5,
        "created_at": iso(model.created_at),
        "updated_at": iso(model.updated_at),
    }
