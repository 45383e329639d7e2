"""The caller's organization: its metadata, its members and its invites.

Every function takes the calling Principal and touches only that principal's organization;
a member or invite id from another organization reads as 404, exactly like one that does
not exist. Mutations lock the organization row first, so two concurrent requests cannot
both remove "one of two" owners and leave none.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.db.tables import Invite, Membership, User, as_utc
from pictograph.server.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from pictograph.server.roles import RANK, check_role_name, require, require_can_grant
from pictograph.server.security import fingerprint
from pictograph.server.services import credits
from pictograph.server.services.lookup import find_owned, locked_organization

INVITE_ROLES = ("admin", "member", "viewer")
INVITE_STATUSES = ("pending", "accepted", "revoked", "expired")
DEFAULT_INVITE_DAYS = 7
MAX_INVITE_DAYS = 365
UPGRADE_URL = credits.UPGRADE_URL

_EMAIL = re.compile(
    r"^[^@\s]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$"
)


class SeatLimitReached(ServiceError):
    """402: members plus pending invites already fill the organization's ``max_users``."""

    status_code = 402
    error_code = "member_limit_reached"


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ───────────── organization ─────────────


def _pending_clause(now: datetime) -> Any:
    return and_(Invite.status == "pending", Invite.expires_at > now)


def _counts(session: Session, organization_id: str) -> tuple[int, int]:
    members = (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == organization_id)
        )
        or 0
    )
    pending = (
        session.scalar(
            select(func.count())
            .select_from(Invite)
            .where(Invite.organization_id == organization_id, _pending_clause(_now()))
        )
        or 0
    )
    return members, pending


def get_organization(session: Session, principal: Principal) -> dict[str, Any]:
    """The caller's organization with its credit state and denormalized counts."""
    credits.renew_allowance(session, principal.organization_id)
    org = locked_organization(session, principal.organization_id)
    members, pending = _counts(session, org.id)
    return {
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "subscription_tier": org.subscription_tier,
        "billing_email": org.billing_email,
        "credits_remaining": org.credits_remaining,
        "credits_monthly_allowance": org.credits_monthly_allowance,
        "credits_reset_at": as_utc(org.credits_reset_at) if org.credits_reset_at else None,
        "max_users": org.max_users,
        "max_images": org.max_images,
        "max_storage_bytes": org.max_storage_bytes,
        "member_count": members,
        "pending_invite_count": pending,
        "created_at": as_utc(org.created_at),
        "updated_at": as_utc(org.updated_at),
    }


# ───────────── members ─────────────


def _member_json(member: Membership, user: User | None) -> dict[str, Any]:
    return {
        "id": member.id,
        "organization_id": member.organization_id,
        "user_id": member.user_id,
        "email": user.email if user else None,
        "full_name": user.full_name if user else None,
        "role": member.role,
        "joined_at": as_utc(member.joined_at),
    }


def list_members(session: Session, principal: Principal, limit: int, offset: int) -> dict[str, Any]:
    org_id = principal.organization_id
    rows = session.execute(
        select(Membership, User)
        .outerjoin(User, User.id == Membership.user_id)
        .where(Membership.organization_id == org_id)
        .order_by(Membership.joined_at, Membership.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = (
        session.scalar(
            select(func.count()).select_from(Membership).where(Membership.organization_id == org_id)
        )
        or 0
    )
    return {"members": [_member_json(m, u) for m, u in rows], "total": total}


def _member(
    session: Session, organization_id: str, member_id: str
) -> tuple[Membership, User | None]:
    row = session.execute(
        select(Membership, User)
        .outerjoin(User, User.id == Membership.user_id)
        .where(Membership.id == member_id, Membership.organization_id == organization_id)
    ).first()
    if row is None:
        raise NotFound(f"Member {member_id} not found")
    return row[0], row[1]


def _owner_count(session: Session, organization_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organization_id == organization_id, Membership.role == "owner")
        )
        or 0
    )


def _check_can_manage(principal: Principal, member: Membership, action: str) -> None:
    """Admins manage members up to their own rank; only an owner touches an owner."""
    if RANK[member.role] > RANK[principal.role]:
        raise Forbidden(
            f"A {principal.role} key cannot {action} a member whose role is {member.role}"
        )


def update_member_role(
    session: Session, principal: Principal, member_id: str, role: str
) -> dict[str, Any]:
    require(principal.role, "admin", "Changing a member's role")
    check_role_name(role, ["role"])
    locked_organization(session, principal.organization_id)
    member, user = _member(session, principal.organization_id, member_id)
    _check_can_manage(principal, member, "change the role of")
    require_can_grant(principal.role, role)
    if (
        member.role == "owner"
        and role != "owner"
        and _owner_count(session, member.organization_id) <= 1
    ):
        raise Invalid("Cannot demote the organization's last owner", loc=["role"])
    member.role = role
    session.flush()
    return _member_json(member, user)


def remove_member(session: Session, principal: Principal, member_id: str) -> dict[str, Any]:
    require(principal.role, "admin", "Removing a member")
    locked_organization(session, principal.organization_id)
    member, user = _member(session, principal.organization_id, member_id)
    _check_can_manage(principal, member, "remove")
    if member.role == "owner" and _owner_count(session, member.organization_id) <= 1:
        raise Invalid("Cannot remove the organization's last owner", loc=["member_id"])
    removed = _member_json(member, user)
    session.delete(member)
    session.flush()
    return removed


# ───────────── invites ─────────────


def _invite_status(invite: Invite, now: datetime) -> str:
    if invite.status == "pending" and as_utc(invite.expires_at) <= now:
        return "expired"
    return invite.status


def _invite_json(invite: Invite, now: datetime, invite_url: str | None = None) -> dict[str, Any]:
    return {
        "id": invite.id,
        "organization_id": invite.organization_id,
        "email": invite.email,
        "role": invite.role,
        "status": _invite_status(invite, now),
        "invited_by": invite.invited_by,
        "expires_at": as_utc(invite.expires_at),
        "created_at": as_utc(invite.created_at),
        "invite_url": invite_url,
    }


def _status_clause(status: str, now: datetime) -> Any:
    if status == "pending":
        return _pending_clause(now)
    if status == "expired":
        return or_(
            Invite.status == "expired", and_(Invite.status == "pending", Invite.expires_at <= now)
        )
    return Invite.status == status


def list_invites(
    session: Session, principal: Principal, status: str | None, limit: int, offset: int
) -> dict[str, Any]:
    now = _now()
    where = [Invite.organization_id == principal.organization_id]
    if status is not None:
        if status not in INVITE_STATUSES:
            raise Invalid(
                f"Invalid status {status!r}; expected one of {', '.join(INVITE_STATUSES)}",
                loc=["status"],
            )
        where.append(_status_clause(status, now))
    rows = session.scalars(
        select(Invite)
        .where(*where)
        .order_by(Invite.created_at.desc(), Invite.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Invite).where(*where)) or 0
    return {"invites": [_invite_json(i, now) for i in rows], "total": total}


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if len(cleaned) > 320 or not _EMAIL.match(cleaned):
        raise Invalid(f"Malformed email address {email!r}", loc=["email"])
    return cleaned


def create_invite(
    session: Session,
    principal: Principal,
    email: str,
    role: str,
    expires_in_days: int,
    base_url: str,
) -> dict[str, Any]:
    """A pending invite with a one-time URL; only the token's hash is stored."""
    require(principal.role, "admin", "Inviting a member")
    email = normalize_email(email)
    check_role_name(role, ["role"])
    if role not in INVITE_ROLES:
        raise Invalid(
            "Owners cannot be invited; invite as admin and promote after acceptance", loc=["role"]
        )
    require_can_grant(principal.role, role)
    if not 1 <= expires_in_days <= MAX_INVITE_DAYS:
        raise Invalid(
            f"expires_in_days must be between 1 and {MAX_INVITE_DAYS}", loc=["expires_in_days"]
        )

    org = locked_organization(session, principal.organization_id)
    now = _now()
    already_member = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == org.id, func.lower(User.email) == email)
    )
    if already_member is not None:
        raise Conflict(
            f"{email} is already a member of this organization", error_code="already_member"
        )
    pending = session.scalar(
        select(Invite.id).where(
            Invite.organization_id == org.id, Invite.email == email, _pending_clause(now)
        )
    )
    if pending is not None:
        raise Conflict(f"{email} already has a pending invite", error_code="invite_pending")
    members, pending_count = _counts(session, org.id)
    if members + pending_count >= org.max_users:
        raise SeatLimitReached(
            f"Member limit reached: {members} members and {pending_count} pending invites "
            f"fill this organization's {org.max_users} seats",
            upgrade_url=UPGRADE_URL,
        )

    token = secrets.token_urlsafe(32)
    invite = Invite(
        organization_id=org.id,
        email=email,
        role=role,
        status="pending",
        token_hash=fingerprint(token),
        invited_by=principal.api_key_id,
        expires_at=now + timedelta(days=expires_in_days),
        created_at=now,
    )
    session.add(invite)
    session.flush()
    return _invite_json(invite, now, invite_url=f"{base_url}/invites/{token}")


def revoke_invite(session: Session, principal: Principal, invite_id: str) -> dict[str, Any]:
    """Revoke a pending invite; revoking a revoked one again is a no-op."""
    require(principal.role, "admin", "Revoking an invite")
    invite = find_owned(
        session,
        principal,
        Invite,
        Invite.id == invite_id,
        missing=f"Invite {invite_id} not found",
        lock=True,
    )
    now = _now()
    status = _invite_status(invite, now)
    if status not in ("pending", "revoked"):
        raise Invalid(
            f"Only pending invites can be revoked; this one is {status}", loc=["invite_id"]
        )
    if RANK[invite.role] > RANK[principal.role]:
        raise Forbidden(
            f"A {principal.role} key cannot revoke an invite for the {invite.role} role"
        )
    invite.status = "revoked"
    session.flush()
    return _invite_json(invite, now)


def accept_invite(session: Session, token: str, full_name: str | None) -> dict[str, Any]:
    """Turn a pending invite into a membership; the token in the invite URL is the credential."""
    now = _now()
    invite = session.scalar(
        select(Invite).where(Invite.token_hash == fingerprint(token)).with_for_update()
    )
    if invite is None or _invite_status(invite, now) != "pending":
        # Revoked, expired, used and unknown tokens read the same: the URL no longer works.
        raise NotFound("Invite not found, or no longer valid")
    locked_organization(session, invite.organization_id)
    user = session.scalar(select(User).where(func.lower(User.email) == invite.email))
    if user is None:
        user = User(email=invite.email, full_name=full_name)
        session.add(user)
        session.flush()
    elif full_name and not user.full_name:
        user.full_name = full_name
    existing = session.scalar(
        select(Membership).where(
            Membership.organization_id == invite.organization_id, Membership.user_id == user.id
        )
    )
    if existing is not None:
        raise Conflict(
            f"{invite.email} is already a member of this organization", error_code="already_member"
        )
    member = Membership(organization_id=invite.organization_id, user_id=user.id, role=invite.role)
    session.add(member)
    invite.status = "accepted"
    session.flush()
    return {"member": _member_json(member, user), "invite": _invite_json(invite, now)}
