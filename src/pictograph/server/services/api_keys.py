"""API keys of the caller's organization: list, create, read, update, revoke.

Every operation needs an admin (or owner) key, and a caller may only manage keys at or below
its own role: an admin cannot create, change or revoke an owner key. The full key string
exists only in the create response; the table keeps its bcrypt hash and its first 12
characters. A revoked key is deleted outright, so it can never be switched back on.

The organization's last active owner key cannot be revoked, deactivated or demoted: on a
self-hosted install nothing else could issue a new one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server import security
from pictograph.server.auth import Principal
from pictograph.server.db.tables import ApiKey, Organization, as_utc
from pictograph.server.errors import Conflict, Forbidden, Invalid, NotFound
from pictograph.server.ratelimit import tier_limit
from pictograph.server.roles import RANK, check_role_name, require, require_can_grant
from pictograph.server.services.lookup import find_owned

UPDATABLE = ("name", "role", "expires_at", "rate_limit", "is_active")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def key_json(key: ApiKey) -> dict[str, Any]:
    """Key metadata: never the hash, never the full key."""
    return {
        "id": key.id,
        "organization_id": key.organization_id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "role": key.role,
        "rate_limit": key.rate_limit,
        "is_active": key.is_active,
        "last_used_at": as_utc(key.last_used_at) if key.last_used_at else None,
        "expires_at": as_utc(key.expires_at) if key.expires_at else None,
        "created_at": as_utc(key.created_at),
    }


def _own_org(session: Session, principal: Principal, organization_id: str | None) -> Organization:
    """The caller's organization; naming any other one reads as 404."""
    if organization_id is not None and organization_id != principal.organization_id:
        raise NotFound(f"Organization {organization_id} not found")
    org = session.get(Organization, principal.organization_id)
    if org is None:
        raise NotFound("Organization not found")
    return org


def _key(session: Session, principal: Principal, key_id: str, *, lock: bool = False) -> ApiKey:
    return find_owned(
        session,
        principal,
        ApiKey,
        ApiKey.id == key_id,
        missing=f"API key {key_id} not found",
        lock=lock,
    )


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    expires_at = as_utc(expires_at)
    if expires_at <= _now():
        raise Invalid("expires_at must be in the future", loc=["expires_at"])
    return expires_at


def _check_can_manage(principal: Principal, key: ApiKey, action: str) -> None:
    if RANK[key.role] > RANK[principal.role]:
        raise Forbidden(f"A {principal.role} key cannot {action} a key with the {key.role} role")


def _is_usable_owner(key: ApiKey, now: datetime) -> bool:
    return (
        key.role == "owner"
        and key.is_active
        and (key.expires_at is None or as_utc(key.expires_at) > now)
    )


def _guard_last_owner(session: Session, key: ApiKey, action: str) -> None:
    """Refuse to take away the organization's last working owner key."""
    now = _now()
    if not _is_usable_owner(key, now):
        return
    # Lock the organization so two concurrent revocations serialize on this check.
    session.scalar(
        select(Organization.id).where(Organization.id == key.organization_id).with_for_update()
    )
    others = session.scalars(
        select(ApiKey).where(
            ApiKey.organization_id == key.organization_id,
            ApiKey.role == "owner",
            ApiKey.id != key.id,
        )
    ).all()
    if not any(_is_usable_owner(other, now) for other in others):
        raise Conflict(
            f"Cannot {action} the organization's last active owner key; create another owner key first",
            error_code="last_owner_key",
        )


def list_keys(
    session: Session, principal: Principal, organization_id: str | None, limit: int, offset: int
) -> dict[str, Any]:
    require(principal.role, "admin", "Listing API keys")
    org = _own_org(session, principal, organization_id)
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.organization_id == org.id)
        .order_by(ApiKey.created_at, ApiKey.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = (
        session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.organization_id == org.id)
        )
        or 0
    )
    return {"api_keys": [key_json(k) for k in rows], "total": total}


def create_key(
    session: Session,
    principal: Principal,
    *,
    organization_id: str,
    name: str,
    role: str,
    rate_limit: int | None,
    expires_at: datetime | None,
    bcrypt_rounds: int,
) -> dict[str, Any]:
    """Issue a key; the response is the only place the full key ever appears."""
    require(principal.role, "admin", "Creating API keys")
    org = _own_org(session, principal, organization_id)
    check_role_name(role, ["role"])
    require_can_grant(principal.role, role)
    name = name.strip()
    if not name:
        raise Invalid("name must not be blank", loc=["name"])
    expires_at = _check_expiry(expires_at)

    raw_key = security.generate_api_key()
    key = ApiKey(
        organization_id=org.id,
        name=name,
        key_prefix=security.key_prefix(raw_key),
        key_hash=security.hash_api_key(raw_key, bcrypt_rounds),
        role=role,
        rate_limit=rate_limit if rate_limit is not None else tier_limit(org.subscription_tier),
        is_active=True,
        expires_at=expires_at,
        created_at=_now(),
    )
    session.add(key)
    session.flush()
    # The published client reads api_key / key_id; the docs name them full_key / id.
    return {
        **key_json(key),
        "key_id": key.id,
        "api_key": raw_key,
        "full_key": raw_key,
        "key": raw_key,
    }


def get_key(session: Session, principal: Principal, key_id: str) -> dict[str, Any]:
    require(principal.role, "admin", "Reading API keys")
    return key_json(_key(session, principal, key_id))


def update_key(
    session: Session, principal: Principal, key_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply the given fields (only those present in ``changes``); the secret never changes."""
    require(principal.role, "admin", "Updating API keys")
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(sorted(unknown))}", loc=[min(unknown)])
    if not changes:
        raise Invalid(f"Nothing to update: send at least one of {', '.join(UPDATABLE)}", loc=[])
    key = _key(session, principal, key_id, lock=True)
    _check_can_manage(principal, key, "modify")

    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise Invalid("name must not be blank", loc=["name"])
        changes["name"] = name
    if "role" in changes:
        if changes["role"] is None:
            raise Invalid("role cannot be null", loc=["role"])
        check_role_name(changes["role"], ["role"])
        require_can_grant(principal.role, changes["role"])
    if "rate_limit" in changes and changes["rate_limit"] is None:
        raise Invalid("rate_limit cannot be null", loc=["rate_limit"])
    if "is_active" in changes and changes["is_active"] is None:
        raise Invalid("is_active cannot be null", loc=["is_active"])
    if "expires_at" in changes:
        changes["expires_at"] = _check_expiry(changes["expires_at"])

    loses_owner = (
        ("role" in changes and changes["role"] != "owner")
        or changes.get("is_active") is False
        or changes.get("expires_at") is not None
    )
    if loses_owner:
        _guard_last_owner(session, key, "demote, deactivate or set an expiry on")
    for field, value in changes.items():
        setattr(key, field, value)
    session.flush()
    return key_json(key)


def revoke_key(session: Session, principal: Principal, key_id: str) -> dict[str, Any]:
    """Delete the key: it stops authenticating at once and cannot be restored."""
    require(principal.role, "admin", "Revoking API keys")
    key = _key(session, principal, key_id, lock=True)
    _check_can_manage(principal, key, "revoke")
    _guard_last_owner(session, key, "revoke")
    revoked = key_json(key)
    session.delete(key)
    session.flush()
    return {**revoked, "is_active": False}
