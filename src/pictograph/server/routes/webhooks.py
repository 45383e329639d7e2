"""Webhooks: register, list, read, change and delete them; their deliveries; a test ping.

The signing secret is in the create response only. List and create are served with and
without the trailing slash, so that no client is ever redirected.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from pictograph.server.routes.deps import Caller, Ctx, Limit, Offset
from pictograph.server.services import webhooks as webhook_service

router = APIRouter(tags=["webhooks"])


class CreateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    events: list[str] | None = None
    """Event names to receive; omitted or [] means every event."""
    description: str | None = None
    secret: str | None = None
    """Signing secret; omitted means a generated ``whsec_…`` one."""


class UpdateWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    active: bool | None = None


@router.post("/webhooks", status_code=201)
@router.post("/webhooks/", status_code=201, include_in_schema=False)
def create_webhook(body: CreateWebhook, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        webhook = webhook_service.create_webhook(
            session,
            caller,
            url=body.url,
            events=body.events,
            description=body.description,
            secret=body.secret,
        )
        payload = {**webhook_service.webhook_payload(webhook), "secret": webhook.secret}
    return {"webhook": payload}


@router.get("/webhooks")
@router.get("/webhooks/", include_in_schema=False)
def list_webhooks(
    ctx: Ctx, caller: Caller, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    with ctx.db.session() as session:
        rows, total = webhook_service.list_webhooks(session, caller, limit=limit, offset=offset)
        webhooks = [webhook_service.webhook_payload(webhook) for webhook in rows]
    return {"webhooks": webhooks, "total": total, "limit": limit, "offset": offset}


@router.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        webhook = webhook_service.find(session, caller, webhook_id)
        return {"webhook": webhook_service.webhook_payload(webhook)}


@router.patch("/webhooks/{webhook_id}")
def update_webhook(
    webhook_id: str, body: UpdateWebhook, ctx: Ctx, caller: Caller
) -> dict[str, Any]:
    changes = body.model_dump(include=body.model_fields_set)
    with ctx.db.session() as session:
        webhook = webhook_service.update_webhook(session, caller, webhook_id, changes)
        return {"webhook": webhook_service.webhook_payload(webhook)}


@router.delete("/webhooks/{webhook_id}")
def delete_webhook(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    with ctx.db.session() as session:
        return webhook_service.delete_webhook(session, caller, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str, ctx: Ctx, caller: Caller, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    with ctx.db.session() as session:
        rows, total = webhook_service.list_deliveries(
            session, caller, webhook_id, limit=limit, offset=offset
        )
        deliveries = [webhook_service.delivery_payload(delivery) for delivery in rows]
    return {"deliveries": deliveries, "total": total, "limit": limit, "offset": offset}


@router.post("/webhooks/{webhook_id}/test", status_code=202)
def send_test_delivery(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    """Queue a ``ping`` to this webhook only; follow it in the deliveries list."""
    with ctx.db.session() as session:
        delivery = webhook_service.send_test(session, caller, webhook_id)
        payload = webhook_service.delivery_payload(delivery)
    if ctx.jobs is not None:
        ctx.jobs.wake()
    return {"delivery_id": payload["id"], "delivery": payload}
