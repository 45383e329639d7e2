"""Webhooks: URLs that receive signed event deliveries, and the record of each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookEvent = Literal["auto_label.completed", "auto_label.failed", "ping"]
"""The events a webhook can subscribe to (``ping`` is what ``webhooks.test`` sends)."""

DeliveryStatus = Literal["pending", "delivered", "failed"]
"""``pending`` (being tried, or waiting to retry) → ``delivered`` (a 2xx answer) or
``failed`` (every attempt used)."""


class Webhook(BaseModel):
    """One registered URL. ``secret`` is set only on the result of ``webhooks.create``."""

    model_config = ConfigDict(extra="ignore")

    id: str
    url: str
    events: list[str] = Field(
        default_factory=list, description="Events it receives; empty means every event."
    )
    description: str | None = None
    active: bool = True
    organization_id: str | None = None
    created_at: datetime | None = None
    secret: str | None = Field(
        default=None,
        description="Key of the X-Pictograph-Signature HMAC; shown once, when created.",
    )


class WebhookDelivery(BaseModel):
    """One event sent (or being sent) to one webhook, with the outcome of its attempts."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="Also the body's ``id`` and the X-Pictograph-Delivery header.")
    webhook_id: str
    event: str
    status: DeliveryStatus
    attempts: int = 0
    response_status: int | None = Field(
        default=None, description="HTTP status of the latest answer; None if none came."
    )
    last_error: str | None = Field(default=None, description="Why the latest attempt failed.")
    created_at: datetime
    delivered_at: datetime | None = None
    organization_id: str | None = None
    payload: dict[str, Any] | None = Field(default=None, description="The JSON body sent.")

    @property
    def is_terminal(self) -> bool:
        return self.status in ("delivered", "failed")
