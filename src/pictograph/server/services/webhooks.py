"""Webhooks: URLs an organization registers to hear about events, and the deliveries to them.

Rules kept here:

- ``url`` is an absolute ``http://`` or ``https://`` URL with a host (422 ``["url"]``);
  ``events`` is a subset of :data:`KNOWN_EVENTS` (422 ``["events", i]``), the empty list
  meaning every event. The signing ``secret`` is the caller's (16–100 printable ASCII
  characters) or a generated ``whsec_…``; it appears in the create response only.
- Reading (webhooks and their deliveries): any role. Creating, updating, deleting and sending
  a test ``ping``: admin and above. Another organization's webhook reads as 404.
- :func:`emit` records one ``pending`` :class:`WebhookDelivery` per active subscribed webhook
  and enqueues its first ``webhook_delivery`` job in the caller's transaction, so an event is
  either fully recorded with the work that sends it or not at all. The job
  (``pictograph.server.jobs.webhook_job``) signs and POSTs it, retrying with back-off.
- Deactivating a webhook stops new events from reaching it; deliveries already recorded
  finish their attempts. Deleting one deletes its deliveries; their pending jobs then find
  nothing to send and end at once.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph import __version__
from pictograph.server.auth import Principal
from pictograph.server.db.tables import Job, Webhook, WebhookDelivery, new_id, utcnow
from pictograph.server.errors import Invalid, NotFound
from pictograph.server.jobs.records import enqueue
from pictograph.server.roles import require
from pictograph.server.services.projects import iso
from pictograph.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

KNOWN_EVENTS: tuple[str, ...] = (
    "auto_label.completed", "auto_label.failed", "training.completed", "training.failed", "ping",
)  # fmt: skip
JOB_KIND = "webhook_delivery"
UPDATABLE: tuple[str, ...] = ("url", "events", "description", "active")
SECRET_PREFIX = "whsec_"
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 100
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 1000
USER_AGENT = f"pictograph-webhooks/{__version__}"


# ───────────── validation ─────────────


def validate_url(value: Any) -> str:
    loc = ["url"]
    if not isinstance(value, str) or not value:
        raise Invalid("url must not be blank", loc=loc)
    if len(value) > MAX_URL_LENGTH:
        raise Invalid(f"url must be at most {MAX_URL_LENGTH} characters", loc=loc)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise Invalid("url must not contain whitespace or control characters", loc=loc)
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises on a port that is not a number
    except ValueError as error:
        raise Invalid(f"url {value!r} is not a valid URL: {error}", loc=loc) from error
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise Invalid("url must be an absolute http:// or https:// URL with a host", loc=loc)
    return value


def validate_events(value: Any) -> list[str]:
    """The event names, each once, in the order given; [] (or None) subscribes to every event."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("events must be a list of event names", loc=["events"])
    events: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or name not in KNOWN_EVENTS:
            raise Invalid(
                f"events[{index}] {name!r} is not a known event; "
                f"expected one of {', '.join(KNOWN_EVENTS)}",
                loc=["events", index],
            )
        if name not in events:
            events.append(name)
    return events


def validate_description(value: Any) -> str | None:
    """The description, or None for none (a blank one included, so "" clears it)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_LENGTH:
        raise Invalid(
            f"description must be a string of at most {MAX_DESCRIPTION_LENGTH} characters",
            loc=["description"],
        )
    return value.strip() or None


def validate_secret(value: Any) -> str:
    """The caller's secret, or a generated one; short secrets would make signatures guessable."""
    if value is None:
        return SECRET_PREFIX + secrets.token_urlsafe(32)
    if (
        not isinstance(value, str)
        or not MIN_SECRET_LENGTH <= len(value) <= MAX_SECRET_LENGTH
        or any(not 33 <= ord(ch) <= 126 for ch in value)
    ):
        raise Invalid(
            f"secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} printable ASCII "
            "characters without spaces",
            loc=["secret"],
        )
    return value


def subscribed(webhook: Webhook, event: str) -> bool:
    return not webhook.events or event in webhook.events


# ───────────── webhooks ─────────────


def find(session: Session, principal: Principal, webhook_id: str, *, lock: bool = False) -> Webhook:
    """The webhook, if it belongs to the caller's organization; 404 otherwise."""
    query = select(Webhook).where(
        Webhook.id == webhook_id, Webhook.organization_id == principal.organization_id
    )
    if lock:
        query = query.with_for_update()
    webhook = session.scalar(query)
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return webhook


def create_webhook(
    session: Session,
    principal: Principal,
    *,
    url: Any,
    events: Any,
    description: Any,
    secret: Any,
) -> Webhook:
    require(principal.role, "admin", "Creating a webhook")
    webhook = Webhook(
        organization_id=principal.organization_id,
        url=validate_url(url),
        events=validate_events(events),
        description=validate_description(description),
        secret=validate_secret(secret),
    )
    session.add(webhook)
    session.flush()
    return webhook


def list_webhooks(
    session: Session, principal: Principal, *, limit: int, offset: int
) -> tuple[list[Webhook], int]:
    """The organization's webhooks, oldest first."""
    where = Webhook.organization_id == principal.organization_id
    total = session.scalar(select(func.count()).select_from(Webhook).where(where)) or 0
    rows = session.scalars(
        select(Webhook)
        .where(where)
        .order_by(Webhook.created_at, Webhook.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def update_webhook(
    session: Session, principal: Principal, webhook_id: str, changes: dict[str, Any]
) -> Webhook:
    """Apply the fields present in ``changes``; the secret never changes (recreate to rotate)."""
    require(principal.role, "admin", "Updating a webhook")
    if not changes:
        raise Invalid(f"Nothing to update: send at least one of {', '.join(UPDATABLE)}", loc=[])
    webhook = find(session, principal, webhook_id, lock=True)
    if "url" in changes:
        webhook.url = validate_url(changes["url"])
    if "events" in changes:
        if changes["events"] is None:
            raise Invalid("events cannot be null; send [] to receive every event", loc=["events"])
        webhook.events = validate_events(changes["events"])
    if "description" in changes:
        webhook.description = validate_description(changes["description"])
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise Invalid("active must be true or false", loc=["active"])
        webhook.active = changes["active"]
    session.flush()
    return webhook


def delete_webhook(session: Session, principal: Principal, webhook_id: str) -> dict[str, Any]:
    """Delete the webhook and (by cascade) its deliveries."""
    require(principal.role, "admin", "Deleting a webhook")
    webhook = find(session, principal, webhook_id, lock=True)
    session.delete(webhook)
    session.flush()
    return {"id": webhook_id, "deleted": True}


# ───────────── deliveries ─────────────


def list_deliveries(
    session: Session, principal: Principal, webhook_id: str, *, limit: int, offset: int
) -> tuple[list[WebhookDelivery], int]:
    """One webhook's deliveries, newest first."""
    webhook = find(session, principal, webhook_id)
    where = WebhookDelivery.webhook_id == webhook.id
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(where)) or 0
    rows = session.scalars(
        select(WebhookDelivery)
        .where(where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def enqueue_attempt(
    session: Session,
    organization_id: str,
    delivery_id: str,
    attempt: int,
    not_before: datetime | None = None,
) -> Job:
    """The job that makes try number ``attempt`` of the delivery, not before ``not_before``."""
    return enqueue(
        session,
        organization_id,
        JOB_KIND,
        {"delivery_id": delivery_id, "attempt": attempt},
        not_before=not_before,
    )


def record_delivery(
    session: Session, webhook: Webhook, event: str, data: dict[str, Any]
) -> WebhookDelivery:
    """A pending delivery of ``event`` to ``webhook`` and the job of its first attempt.

    The stored payload is the body every attempt sends, so retries carry the same document.
    """
    delivery_id, now = new_id(), utcnow()
    payload = {
        "id": delivery_id,
        "event": event,
        "created_at": iso(now),
        "organization_id": webhook.organization_id,
        "data": dict(data),
    }
    delivery = WebhookDelivery(
        id=delivery_id,
        webhook_id=webhook.id,
        organization_id=webhook.organization_id,
        event=event,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    enqueue_attempt(session, webhook.organization_id, delivery_id, 1)
    return delivery


def emit(session: Session, organization_id: str, event: str, data: dict[str, Any]) -> list[str]:
    """Record ``event`` for every active webhook of the organization subscribed to it.

    Each gets a pending delivery and its job in the caller's transaction (the caller commits,
    and may wake the job runner); returns the delivery ids. ValueError for an unknown event:
    that is a bug in the caller, not something to send.
    """
    if event not in KNOWN_EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}; expected one of {KNOWN_EVENTS}")
    webhooks = session.scalars(
        select(Webhook)
        .where(Webhook.organization_id == organization_id, Webhook.active.is_(True))
        .order_by(Webhook.created_at, Webhook.id)
    ).all()
    return [
        record_delivery(session, webhook, event, data).id
        for webhook in webhooks
        if subscribed(webhook, event)
    ]


def send_test(session: Session, principal: Principal, webhook_id: str) -> WebhookDelivery:
    """A ``ping`` to this webhook alone, whatever its events and even while inactive: the
    way to check a receiver before relying on it."""
    require(principal.role, "admin", "Sending a test delivery")
    webhook = find(session, principal, webhook_id)
    return record_delivery(session, webhook, "ping", {"webhook_id": webhook.id})


# ───────────── signing ─────────────


def signed_request(
    secret: str, delivery_id: str, event: str, payload: dict[str, Any], timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt; the signature covers exactly these body bytes."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    return body, headers


# ───────────── response shape ─────────────


def webhook_payload(webhook: Webhook) -> dict[str, Any]:
    """What reads return: everything but the secret."""
    return {
        "id": webhook.id,
        "organization_id": webhook.organization_id,
        "url": webhook.url,
        "events": list(webhook.events or []),
        "description": webhook.description,
        "active": bool(webhook.active),
        "created_at": iso(webhook.created_at),
    }


def delivery_payload(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "organization_id": delivery.organization_id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "response_status": delivery.response_status,
        "last_error": delivery.last_error,
        "payload": delivery.payload,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
    }
