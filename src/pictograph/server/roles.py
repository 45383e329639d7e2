"""The role hierarchy viewer < member < admin < owner: the one place it is defined."""

from __future__ import annotations

from pictograph.server.errors import Forbidden, Invalid

ROLES: tuple[str, ...] = ("viewer", "member", "admin", "owner")
RANK = {role: rank for rank, role in enumerate(ROLES)}


def check_role_name(role: str, loc: list[str]) -> str:
    if role not in RANK:
        raise Invalid(f"Invalid role {role!r}; expected one of {', '.join(ROLES)}", loc=loc)
    return role


def at_least(role: str, minimum: str) -> bool:
    return RANK[role] >= RANK[minimum]


def require(role: str, minimum: str, action: str) -> None:
    if not at_least(role, minimum):
        raise Forbidden(f"{action} requires the {minimum} role or higher; this API key is {role}")


def require_can_grant(caller: str, target: str) -> None:
    """Callers may only hand out roles at or below their own."""
    if RANK[target] > RANK[caller]:
        raise Forbidden(f"A {caller} key cannot grant the {target} role")
