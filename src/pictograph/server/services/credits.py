"""The credit ledger: signed entries per organization, the balance kept beside them.

Every change of balance is one ledger row written in the same transaction as the new
balance, with the organization row locked, so the balance always equals the ledger's sum.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server.db.tables import CreditLedgerEntry, as_utc
from pictograph.server.errors import Invalid, PaymentRequired
from pictograph.server.roles import require
from pictograph.server.services.lookup import locked_organization

UPGRADE_URL = "https://pictograph.io/settings/billing"
RECENT_ENTRIES = 20


# slug → (credits per unit, unit, minimum). The docs' slugs and the published client's aliases.
CREDIT_COSTS: dict[str, tuple[int, str, int]] = {
    "sam3_per_minute": (1, "prompt", 3),
    "sam3_auto_annotation": (1, "image", 3),
    "sam3_session": (3, "session", 3),
    "sam3_prompt": (1, "prompt", 1),
    "training_a10g_per_minute": (10, "minute", 0),
    "training_a100_per_minute": (60, "minute", 0),
    "training_h100_per_minute": (120, "minute", 0),
    "training_a10g": (10, "minute", 0),
    "training_a100": (60, "minute", 0),
    "training_h100": (120, "minute", 0),
    "image_generate_imagen_fast": (5, "image", 0),
    "image_edit_gemini_flash": (3, "image", 0),
    "image_inference": (1, "image", 0),
    "inference_t4": (1, "image", 0),
}


def cost_of(operation: str, quantity: int) -> tuple[int, str, int, int]:
    """(credits per unit, unit, minimum, total) for ``quantity`` units of ``operation``."""
    if operation not in CREDIT_COSTS:
        known = ", ".join(sorted(CREDIT_COSTS))
        raise Invalid(f"Unknown operation {operation!r}; known operations: {known}", loc=["operation"])
    if quantity < 1:
        raise Invalid("quantity must be >= 1", loc=["quantity"])
    per_unit, unit, minimum = CREDIT_COSTS[operation]
    return per_unit, unit, minimum, max(per_unit * quantity, minimum)


def next_reset(after: datetime) -> datetime:
    """The first instant of the month after ``after`` (UTC): when the allowance renews."""
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def record(
    session: Session,
    organization_id: str,
    amount: int,
    operation: str,
    description: str | None = None,
    details: dict[str, Any] | None = None,
) -> CreditLedgerEntry:
    """Add one signed entry and move the balance with it."""
    org = locked_organization(session, organization_id)
    org.credits_remaining += amount
    entry = CreditLedgerEntry(
        organization_id=organization_id,
        operation=operation,
        amount=amount,
        balance_after=org.credits_remaining,
        description=description,
        details=details,
    )
    session.add(entry)
    session.flush()
    return entry


def charge(session: Session, organization_id: str, operation: str, quantity: int, **details: Any) -> int:
    """Debit the cost of an operation, or raise 402 without writing anything."""
    _, _, _, total = cost_of(operation, quantity)
    debit(session, organization_id, total, operation, f"{quantity} × {operation}", details or None)
    return total


def require_balance(session: Session, organization_id: str, amount: int, operation: str) -> None:
    """Raise 402 unless the balance covers ``amount`` (a pre-flight check; writes nothing else)."""
    renew_allowance(session, organization_id)
    org = locked_organization(session, organization_id)
    if org.credits_remaining < amount:
        raise PaymentRequired(
            f"Insufficient credits: {operation} needs {amount}, {org.credits_remaining} remaining",
            required=amount,
            remaining=org.credits_remaining,
            upgrade_url=UPGRADE_URL,
        )


def debit(
    session: Session,
    organization_id: str,
    amount: int,
    operation: str,
    description: str,
    details: dict[str, Any] | None = None,
) -> CreditLedgerEntry:
    """Take ``amount`` credits as one ledger entry, or raise 402 without writing anything."""
    require_balance(session, organization_id, amount, operation)
    return record(session, organization_id, -amount, operation, description, details)


def renew_allowance(session: Session, organization_id: str, now: datetime | None = None) -> None:
    """At a month boundary, top the balance back up to the monthly allowance (never down)."""
    now = now or datetime.now(timezone.utc)
    org = locked_organization(session, organization_id)
    if org.credits_reset_at is not None and as_utc(org.credits_reset_at) > now:
        return
    shortfall = org.credits_monthly_allowance - org.credits_remaining
    org.credits_reset_at = next_reset(now)
    if shortfall > 0:
        record(session, organization_id, shortfall, "monthly_allowance", "Monthly allowance renewed")


def balance(session: Session, organization_id: str) -> dict[str, Any]:
    renew_allowance(session, organization_id)
    org = locked_organization(session, organization_id)
    recent = history(session, organization_id, RECENT_ENTRIES, 0)
    return {
        "credits_remaining": org.credits_remaining,
        "credits_monthly_allowance": org.credits_monthly_allowance,
        "credits_reset_at": as_utc(org.credits_reset_at) if org.credits_reset_at else None,
        "recent_history": recent,
    }


def grant(
    session: Session,
    organization_id: str,
    amount: int,
    description: str | None = None,
    *,
    caller_role: str | None = None,
) -> dict[str, Any]:
    """An administrator's top-up: one positive ``admin_grant`` entry; returns the new balance.

    ``caller_role`` is the API key's role when an API caller asks (admin or owner required).
    """
    if caller_role is not None:
        require(caller_role, "admin", "Granting credits")
    if amount < 1:
        raise Invalid("amount must be a positive integer", loc=["amount"])
    renew_allowance(session, organization_id)
    entry = record(session, organization_id, amount, "admin_grant", description or f"Granted {amount} credits")
    return {**balance(session, organization_id), "entry": entry_json(entry)}


def history(session: Session, organization_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(CreditLedgerEntry)
        .where(CreditLedgerEntry.organization_id == organization_id)
        .order_by(CreditLedgerEntry.created_at.desc(), CreditLedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [entry_json(row) for row in rows]


def history_page(session: Session, organization_id: str, limit: int, offset: int) -> dict[str, Any]:
    """One page of the ledger, newest first, with the total number of entries."""
    renew_allowance(session, organization_id)
    return {
        "entries": history(session, organization_id, limit, offset),
        "total": count_history(session, organization_id),
    }


def count_history(session: Session, organization_id: str) -> int:
    return session.scalar(
        select(func.count()).where(CreditLedgerEntry.organization_id == organization_id)
    ) or 0


def estimate(session: Session, organization_id: str, operation: str, quantity: int) -> dict[str, Any]:
    per_unit, unit, minimum, total = cost_of(operation, quantity)
    renew_allowance(session, organization_id)
    remaining = locked_organization(session, organization_id).credits_remaining
    return {
        "operation": operation,
        "credits_per_unit": per_unit,
        "unit": unit,
        "quantity": quantity,
        "minimum": minimum,
        "total_credits": total,
        "sufficient": remaining >= total,
        "credits_remaining": remaining,
    }


def entry_json(entry: CreditLedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "operation": entry.operation,
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "description": entry.description,
        "metadata": entry.details,
        "created_at": as_utc(entry.created_at),
    }
