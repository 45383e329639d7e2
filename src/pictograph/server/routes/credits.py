"""``/credits``: balance, ledger history, cost estimates and administrator grants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictInt

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import credits as service

router = APIRouter(prefix="/credits", tags=["credits"])

MAX_GRANT = 1_000_000_000


class CreditGrant(BaseModel):
    amount: StrictInt = Field(gt=0, le=MAX_GRANT)
    description: str | None = Field(default=None, max_length=500)


@router.get("/balance")
def balance(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return service.balance(session, caller.organization_id)


@router.get("/history")
def history(ctx: Ctx, caller: Caller, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    with ctx.db.session() as session:
        page = service.history_page(session, caller.organization_id, limit, offset)
    return {**page, "limit": limit, "offset": offset}


@router.get("/estimate")
def estimate(
    ctx: Ctx, caller: Caller, operation: str, quantity: int = Query(default=1)
) -> dict[str, Any]:
    with ctx.db.session() as session:
        return service.estimate(session, caller.organization_id, operation, quantity)


@router.post("/grant")
def grant(body: CreditGrant, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return service.grant(
            session, caller.organization_id, body.amount, body.description, caller_role=caller.role
        )
