"""Trained models: list, get, download URL, delete (archive) — the published client's paths."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import models as model_service

router = APIRouter(tags=["models"])


@router.get("/models/")
@router.get("/models", include_in_schema=False)
def list_models(
    ctx: Ctx,
    caller: Caller,
    limit: Limit = 50,
    offset: Offset = 0,
    dataset_name: str | None = None,
    status: str | None = None,
    model_type: str | None = None,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        rows, total = model_service.list_models(
            session,
            caller,
            dataset_name=dataset_name,
            status=status,
            model_type=model_type,
            limit=limit,
            offset=offset,
        )
        models = [model_service.model_payload(model) for model in rows]
    return {"models": models, "total": total, "limit": limit, "offset": offset}


@router.get("/models/{model_id}")
def get_model(model_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {"model": model_service.model_payload(model_service.find(session, caller, model_id))}


@router.get("/models/{model_id}/download")
def download_model(model_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return model_service.download(ctx, session, caller, model_id)


@router.delete("/models/{model_id}")
def delete_model(model_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {
            "model": model_service.model_payload(model_service.archive(session, caller, model_id))
        }
