"""``client.webhooks``: register URLs for events, inspect their deliveries, send a test ping.

Reading needs any role; creating, changing, deleting and testing need admin or owner. Each
delivery is a signed POST (check it with :func:`pictograph.webhooks.verify_signature`),
retried with back-off until the receiver answers 2xx or the attempts run out.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from pictograph.client._pager import OffsetPager
from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import ValidationError
from pictograph.models.webhook import Webhook, WebhookDelivery, WebhookEvent

_PATH = "/api/v1/developer/webhooks"


class Webhooks(Resource):
    def create(
        self,
        url: str,
        events: Sequence[WebhookEvent] | None = None,
        description: str | None = None,
        secret: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Webhook:
        """Register ``url`` for ``events`` (None or [] for every event).

        ``secret`` on the result is the signing key, shown this once: store it. Without
        ``secret`` the server generates one. ValidationError (422) for a URL that is not
        http(s) or an unknown event; ForbiddenError (403) below the admin role.
        """
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = _event_list(events)
        if description is not None:
            body["description"] = description
        if secret is not None:
            body["secret"] = secret
        response = self._transport.request(
            "POST", _PATH, json=body, idempotency_key=idempotency_key
        )
        return self._parse(Webhook, response["webhook"])

    def list(self, limit: int = 100, offset: int = 0) -> builtins.list[Webhook]:
        """One page of the organization's webhooks, oldest first (never with secrets)."""
        body = self._transport.request("GET", _PATH, params={"limit": limit, "offset": offset})
        return self._parse_list(Webhook, body.get("webhooks"))

    def iter(self, *, page_size: int = 100, max_total: int | None = None) -> OffsetPager[Webhook]:
        return OffsetPager(
            lambda offset, limit: self.list(limit=limit, offset=offset),
            page_size=page_size,
            max_total=max_total,
        )

    def get(self, webhook_id: str) -> Webhook:
        body = self._transport.request("GET", self._item_path(webhook_id))
        return self._parse(Webhook, body["webhook"])

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[WebhookEvent] | None = None,
        description: str | None = None,
        active: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Webhook:
        """Change the given fields: ``events=[]`` subscribes to every event, ``description=""``
        clears it, ``active=False`` stops new events. The secret never changes."""
        body: dict[str, Any] = {
            key: value
            for key, value in {
                "url": url,
                "events": _event_list(events) if events is not None else None,
                "description": description,
                "active": active,
            }.items()
            if value is not None
        }
        if not body:
            raise ValidationError(
                "webhooks.update needs at least one of url, events, description, active",
                errors=[{"loc": ["body"], "msg": "no field to update", "type": "value_error"}],
            )
        response = self._transport.request(
            "PATCH", self._item_path(webhook_id), json=body, idempotency_key=idempotency_key
        )
        return self._parse(Webhook, response["webhook"])

    def delete(self, webhook_id: str) -> None:
        """Delete the webhook and its delivery records; pending retries stop."""
        self._transport.request("DELETE", self._item_path(webhook_id))

    def deliveries(
        self, webhook_id: str, limit: int = 100, offset: int = 0
    ) -> builtins.list[WebhookDelivery]:
        """One page of the webhook's deliveries, newest first."""
        body = self._transport.request(
            "GET",
            self._item_path(webhook_id) + "/deliveries",
            params={"limit": limit, "offset": offset},
        )
        return self._parse_list(WebhookDelivery, body.get("deliveries"))

    def test(self, webhook_id: str, *, idempotency_key: str | None = None) -> WebhookDelivery:
        """Queue a ``ping`` to this webhook alone; the delivery returned is still ``pending``
        (follow it with :meth:`deliveries`)."""
        response = self._transport.request(
            "POST", self._item_path(webhook_id) + "/test", idempotency_key=idempotency_key
        )
        return self._parse(WebhookDelivery, response["delivery"])

    @staticmethod
    def _item_path(webhook_id: str) -> str:
        return f"{_PATH}/{path_segment(webhook_id)}"


def _event_list(events: Sequence[str]) -> list[str]:
    """``events`` as a list; a bare string is refused, as it would read as its characters."""
    if isinstance(events, str):
        raise ValidationError(
            "events must be a list of event names, not a string",
            errors=[{"loc": ["events"], "msg": "expected a list", "type": "type_error"}],
        )
    return list(events)
