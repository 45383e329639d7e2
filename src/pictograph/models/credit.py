"""Credits: the balance, ledger entries (negative = debit) and pre-flight cost estimates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CreditLedgerEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    operation: str
    amount: int
    balance_after: int | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None


class CreditBalance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    credits_remaining: int = 0
    credits_monthly_allowance: int = 0
    credits_reset_at: datetime | None = None
    recent_history: list[CreditLedgerEntry] = Field(default_factory=list)


class CreditEstimate(BaseModel):
    """``sufficient`` is a snapshot: the operation's own 402 is the authoritative answer."""

    model_config = ConfigDict(extra="ignore")

    operation: str
    quantity: int
    credits_per_unit: int
    total_credits: int
    unit: str | None = None
    minimum: int = 0
    sufficient: bool
    credits_remaining: int
