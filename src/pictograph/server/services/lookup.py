"""Row lookups the services share: one row inside the caller's organization, or 404.

A row of another organization reads exactly like a missing one, so ids never reveal
what other tenants hold.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.db.tables import ApiKey, Image, Invite, Organization, Project
from pictograph.server.errors import NotFound

OwnedRow = TypeVar("OwnedRow", ApiKey, Image, Invite, Project)
"""A table whose rows belong to one organization (an ``organization_id`` column)."""


def find_owned(
    session: Session,
    principal: Principal,
    model: type[OwnedRow],
    *criteria: Any,
    missing: str,
    lock: bool = False,
) -> OwnedRow:
    """The row of ``model`` in the caller's organization matching ``criteria``; NotFound(``missing``)
    when there is none. ``lock`` holds it (SELECT … FOR UPDATE) until the transaction ends."""
    query = select(model).where(*criteria, model.organization_id == principal.organization_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound(missing)
    return row


def locked_organization(session: Session, organization_id: str) -> Organization:
    """The organization row, locked until the transaction ends, so balance and seat checks
    and the writes that follow them serialize."""
    org = session.scalar(
        select(Organization).where(Organization.id == organization_id).with_for_update()
    )
    if org is None:
        raise NotFound("Organization not found")
    return org
