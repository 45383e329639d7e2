"""``/organizations``: the calling key's organization, its members and its invites."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from pictograph.server.routes.deps import MAX_PAGE_SIZE, Caller, Ctx, Limit, Offset
from pictograph.server.services import organizations as service

router = APIRouter(tags=["organizations"])


class MemberRoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str


class InviteCreate(BaseModel):
    email: str = Field(max_length=320)
    role: str = "member"
    expires_in_days: int = Field(
        default=service.DEFAULT_INVITE_DAYS, ge=1, le=service.MAX_INVITE_DAYS
    )


class InviteAccept(BaseModel):
    full_name: str | None = Field(default=None, max_length=200)


@router.get("/organizations/me")
def get_organization(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {"organization": service.get_organization(session, caller)}


@router.get("/organizations/members")
def list_members(
    ctx: Ctx, caller: Caller, limit: Limit = MAX_PAGE_SIZE, offset: Offset = 0
) -> dict[str, Any]:
    with ctx.db.session() as session:
        page = service.list_members(session, caller, limit, offset)
    return {**page, "limit": limit, "offset": offset}


@router.patch("/organizations/members/{member_id}")
def update_member_role(
    member_id: str, body: MemberRoleUpdate, ctx: Ctx, caller: Caller
) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {"member": service.update_member_role(session, caller, member_id, body.role)}


@router.delete("/organizations/members/{member_id}")
def remove_member(member_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        member = service.remove_member(session, caller, member_id)
    return {"id": member["id"], "deleted": True, "member": member}


@router.get("/organizations/invites")
def list_invites(
    ctx: Ctx,
    caller: Caller,
    status: str | None = None,
    limit: Limit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> dict[str, Any]:
    with ctx.db.session() as session:
        page = service.list_invites(session, caller, status, limit, offset)
    return {**page, "limit": limit, "offset": offset}


@router.post("/organizations/invites", status_code=201)
def create_invite(body: InviteCreate, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        invite = service.create_invite(
            session, caller, body.email, body.role, body.expires_in_days, ctx.settings.base_url
        )
    return {"invite": invite}


@router.delete("/organizations/invites/{invite_id}")
def revoke_invite(invite_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return {"invite": service.revoke_invite(session, caller, invite_id)}


@router.post("/invites/{token}/accept", status_code=201)
def accept_invite(
    token: str, ctx: Ctx, body: Annotated[InviteAccept | None, Body()] = None
) -> dict[str, Any]:
    """Join the organization; the token from the invite URL is the only credential."""
    with ctx.db.session() as session:
        return service.accept_invite(session, token, body.full_name if body else None)
