"""Training runs: create, list, get, cancel, logs — the published client's paths."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import training as training_service

router = APIRouter(tags=["training"])


class CreateRun(BaseModel):
    """Types are checked by the service, so a bad value is a 422 naming its field."""

    model_config = ConfigDict(extra="ignore")

    dataset_name: Any = None
    export_name: Any = None
    pipeline_type: Any = None
    name: Any = None
    gpu_type: Any = "a10g"
    config: Any = None


@router.post("/training/", status_code=201)
@router.post("/training", status_code=201, include_in_schema=False)
def create_run(body: CreateRun, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        view = training_service.create_run(session, caller, ctx.settings, body.model_dump())
        run = training_service.run_payload(view)
    return {"training_run": run}


@router.get("/training/")
@router.get("/training", include_in_schema=False)
def list_runs(
    ctx: Ctx,
    caller: Caller,
    limit: Limit = 50,
    offset: Offset = 0,
    dataset_name: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        views, total = training_service.list_runs(
            session, caller, dataset_name=dataset_name, status=status, limit=limit, offset=offset
        )
        runs = [training_service.run_payload(view) for view in views]
    return {"training_runs": runs, "total": total, "limit": limit, "offset": offset}


@router.get("/training/{run_id}")
def get_run(run_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        run = training_service.run_payload(training_service.get_run(session, caller, run_id))
    return {"training_run": run}


@router.get("/training/{run_id}/logs")
def run_logs(run_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The run's log lines so far (the last 500): data split, one line per epoch, the end."""
    with ctx.db.session() as session:
        view = training_service.get_run(session, caller, run_id)
        return {
            "training_run_id": view.run.id,
            "status": view.run.status,
            "logs": list(view.run.logs or []),
        }


@router.post("/training/{run_id}/cancel")
def cancel_run(run_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        run = training_service.run_payload(training_service.cancel_run(session, caller, run_id))
    return {"training_run": run}
