"""Connectors: V7 Darwin and Roboflow — validate a key, check caps, run and follow an import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import connectors as connector_service

router = APIRouter(tags=["connectors"])


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: Any = None
    api_key: Any = None


class LimitsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    total_images: Any = None
    estimated_size_bytes: Any = 0


class StartBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: Any = None
    api_key: Any = None
    datasets: Any = None


@router.post("/connectors/validate")
def validate(body: ValidateBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return connector_service.validate(ctx, caller, body.provider, body.api_key)


@router.post("/connectors/check-limits")
def check_limits(body: LimitsBody, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return connector_service.check_limits(
            session, caller, body.total_images, body.estimated_size_bytes
        )


@router.post("/connectors/import/start", status_code=202)
def start_import(body: StartBody, ctx: Ctx, caller: Caller) -> JSONResponse:
    job = connector_service.start_import(ctx, caller, body.provider, body.api_key, body.datasets)
    snapshot = connector_service.import_json(job)
    return JSONResponse(
        {
            "import_id": job.id,
            "job_id": job.id,
            "status": "started",
            "datasets": snapshot["datasets"],
            "total_images": snapshot["total_images"],
        },
        status_code=202,
    )


@router.get("/connectors/import/status/{import_id}")
def import_status(import_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return connector_service.import_json(connector_service.get_import(session, caller, import_id))


@router.post("/connectors/import/cancel/{import_id}")
def cancel_import(import_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return connector_service.cancel_import(ctx, caller, import_id)


@router.get("/connectors/imports")
def list_imports(ctx: Ctx, caller: Caller, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    with ctx.db.session() as session:
        jobs, total = connector_service.list_imports(session, caller, limit, offset)
        items = [connector_service.import_json(job) for job in jobs]
    return {"imports": items, "total": total, "limit": limit, "offset": offset}
