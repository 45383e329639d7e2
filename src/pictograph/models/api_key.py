"""API keys: metadata for listing, and the one response that reveals the full key."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

ApiKeyRole = Literal["viewer", "member", "admin", "owner"]


class ApiKey(BaseModel):
    """Key metadata; the secret itself is never returned after creation."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    role: str
    key_prefix: str
    organization_id: str | None = None
    rate_limit: int | None = None
    is_active: bool = True
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None


class CreatedApiKey(BaseModel):
    """What ``api_keys.create`` returns: ``full_key`` is shown this once and never again."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(validation_alias=AliasChoices("id", "key_id"))
    full_key: str = Field(validation_alias=AliasChoices("full_key", "api_key"))
    name: str
    role: str
    key_prefix: str
    organization_id: str | None = None
    rate_limit: int | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def key_id(self) -> str:
        return self.id

    @property
    def api_key(self) -> str:
        return self.full_key
