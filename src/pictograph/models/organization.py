"""The API key's organization, its members and its invites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

OrganizationRole = Literal["owner", "admin", "member", "viewer"]
InviteStatus = Literal["pending", "accepted", "revoked", "expired"]


class Organization(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    slug: str | None = None
    subscription_tier: str = "free"
    billing_email: str | None = None
    credits_remaining: int = 0
    credits_monthly_allowance: int = 0
    credits_reset_at: datetime | None = None
    max_users: int | None = None
    max_images: int | None = None
    max_storage_bytes: int | None = None
    member_count: int = 0
    pending_invite_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


class OrganizationMember(BaseModel):
    """A membership row: ``id`` is the membership's id (what role changes take), not the user's."""

    model_config = ConfigDict(extra="ignore")

    id: str
    user_id: str | None = None
    email: str | None = None
    full_name: str | None = None
    role: str
    joined_at: datetime | None = None


class OrganizationInvite(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    organization_id: str | None = None
    email: str
    role: str
    status: str = "pending"
    invited_by: str | None = None
    invite_url: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
