"""``/api/v1/api-keys``: programmatic key management (admin or owner keys only).

The one exception is ``GET /api/v1/api-keys/me``, open to every role: a key may read its own
metadata, so that an agent toolkit can learn its role and refuse tools above it up front.

The published client calls ``/api/v1/api-keys/`` with the trailing slash for list and
create; both spellings are served so that no client is ever redirected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from pictograph.server.db.tables import ApiKey
from pictograph.server.errors import Unauthorized
from pictograph.server.routes.deps import MAX_PAGE_SIZE, Caller, Ctx, Limit, Offset
from pictograph.server.services import api_keys as service

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


class ApiKeyCreate(BaseModel):
    organization_id: str
    name: str = Field(min_length=1, max_length=100)
    role: str = "member"
    rate_limit: int | None = Field(default=None, ge=1, le=10_000_000)
    expires_at: datetime | None = None


class ApiKeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    role: str | None = None
    expires_at: datetime | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=10_000_000)
    is_active: bool | None = None


@router.get("/")
@router.get("", include_in_schema=False)
def list_keys(
    ctx: Ctx,
    caller: Caller,
    organization_id: str | None = None,
    limit: Limit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        page = service.list_keys(session, caller, organization_id, limit, offset)
    return {**page, "limit": limit, "offset": offset}


@router.post("/", status_code=201)
@router.post("", status_code=201, include_in_schema=False)
def create_key(body: ApiKeyCreate, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return service.create_key(
            session,
            caller,
            organization_id=body.organization_id,
            name=body.name,
            role=body.role,
            rate_limit=body.rate_limit,
            expires_at=body.expires_at,
            bcrypt_rounds=ctx.settings.bcrypt_rounds,
        )


@router.get("/me")
def my_key(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """The calling key itself; declared before ``/{key_id}`` so that "me" is never an id."""
    with ctx.db.session() as session:
        key = session.get(ApiKey, caller.api_key_id)
        if key is None:  # revoked while the authenticator's cache still held it
            raise Unauthorized("This API key no longer exists")
        return {"api_key": service.key_json(key)}


@router.get("/{key_id}")
def get_key(key_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {"api_key": service.get_key(session, caller, key_id)}


@router.patch("/{key_id}")
def update_key(key_id: str, body: ApiKeyUpdate, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    changes = body.model_dump(include=body.model_fields_set)
    with ctx.db.session() as session:
        key = service.update_key(session, caller, key_id, changes)
    ctx.authenticator.forget()
    return {"api_key": key}


@router.delete("/{key_id}")
def revoke_key(key_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        key = service.revoke_key(session, caller, key_id)
    ctx.authenticator.forget()
    return {"id": key["id"], "deleted": True, "api_key": key}
