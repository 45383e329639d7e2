"""The ``webhook_delivery`` job: one signed POST of one delivery, and what its answer decides.

Each job run is one attempt (payload: ``delivery_id`` and ``attempt``). A 2xx answer marks
the delivery ``delivered``. Anything else — another status, a timeout, a refused connection —
is recorded on the delivery and, while attempts remain, the next attempt is enqueued as a new
pending job with ``not_before`` = now + :func:`retry_delay`, so a back-off holds no worker
and survives a restart; the last failure marks the delivery ``failed``. The job itself
completes either way: a receiver that is down is the delivery's outcome, not a worker error.

The outcome is recorded only if the delivery still stands at ``attempt - 1`` tries, in the
same transaction as the next attempt's job. A job run again after its worker died (its lease
ran out) therefore finds its attempt already recorded and stops, so retries never fork into
two chains. Delivery is at least once: a worker that dies mid-request means the receiver may
see that attempt twice, with the same ``X-Pictograph-Delivery`` id to deduplicate on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from pictograph.server.db.engine import Database
from pictograph.server.db.tables import Webhook, WebhookDelivery, utcnow
from pictograph.server.jobs.context import JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.services.webhooks import JOB_KIND, enqueue_attempt, signed_request
from pictograph.server.settings import Settings

RETRY_CAP_SECONDS = 3600.0
"""The longest wait between two attempts, however many came before."""
ERROR_EXCERPT_BYTES = 500
"""How much of a failing receiver's answer is kept in ``last_error``."""


@dataclass(frozen=True)
class Attempt:
    """One try of one delivery, with everything needed to send it read in one transaction."""

    delivery_id: str
    organization_id: str
    number: int
    event: str
    payload: dict[str, Any]
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    response_status: int | None
    error: str | None
    """None when the receiver accepted the delivery (a 2xx answer)."""


def retry_delay(attempt: int, base_seconds: float) -> float:
    """Seconds to wait after failed try number ``attempt``: base, 2×base, 4×base … capped."""
    return min(base_seconds * 2 ** (attempt - 1), RETRY_CAP_SECONDS)


def load_attempt(db: Database, delivery_id: str, number: int) -> Attempt | None:
    """The attempt to make, or None when there is none: the delivery (or its webhook) is gone,
    it already ended, or this attempt was already recorded."""
    with db.session() as session:
        row = session.execute(
            select(WebhookDelivery, Webhook.url, Webhook.secret)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.id == delivery_id)
        ).first()
    if row is None:
        return None
    delivery, url, secret = row
    if delivery.status != "pending" or delivery.attempts != number - 1:
        return None
    return Attempt(
        delivery_id=delivery.id,
        organization_id=delivery.organization_id,
        number=number,
        event=delivery.event,
        payload=dict(delivery.payload or {}),
        url=url,
        secret=secret,
    )


def send(attempt: Attempt, timeout: float) -> Outcome:
    """POST the signed delivery once; whatever goes wrong reaching the receiver is an outcome."""
    body, headers = signed_request(
        attempt.secret, attempt.delivery_id, attempt.event, attempt.payload, int(time.time())
    )
    try:
        # Redirects are not followed: the signed body goes to the registered URL only.
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", attempt.url, content=body, headers=headers) as response,
        ):
            if response.is_success:
                return Outcome(response.status_code, None)
            excerpt = _excerpt(response)
            error = f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")
            return Outcome(response.status_code, error)
    except Exception as error:  # any failure to reach the receiver is a failed attempt
        name, message = type(error).__name__, str(error)
        return Outcome(None, f"{name}: {message}" if message else name)


def _excerpt(response: httpx.Response) -> str:
    """The start of the answer's body, read no further than needed."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= ERROR_EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status already says the attempt failed; a cut-off body only shortens this
    return data[:ERROR_EXCERPT_BYTES].decode("utf-8", "replace").strip()


def record(db: Database, attempt: Attempt, outcome: Outcome, settings: Settings) -> str | None:
    """Store the outcome and enqueue the next attempt when one is due; the delivery's new
    status, or None when another run had already recorded this attempt."""
    now = utcnow()
    if outcome.error is None:
        status = "delivered"
    elif attempt.number >= settings.webhook_max_attempts:
        status = "failed"
    else:
        status = "pending"
    with db.session() as session:
        recorded = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == attempt.delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == attempt.number - 1,
            )
            .values(
                status=status,
                attempts=attempt.number,
                response_status=outcome.response_status,
                last_error=outcome.error,
                delivered_at=now if status == "delivered" else None,
            )
        ).rowcount
        if not recorded:
            return None
        if status == "pending":
            wait = retry_delay(attempt.number, settings.webhook_retry_base_seconds)
            enqueue_attempt(
                session,
                attempt.organization_id,
                attempt.delivery_id,
                attempt.number + 1,
                not_before=now + timedelta(seconds=wait),
            )
    return status


@handler(JOB_KIND)
def deliver(job: JobContext) -> dict[str, Any]:
    delivery_id = str(job.payload["delivery_id"])
    number = int(job.payload["attempt"])
    result: dict[str, Any] = {"delivery_id": delivery_id, "attempt": number}
    attempt = load_attempt(job.db, delivery_id, number)
    if attempt is None:
        return {**result, "skipped": True}
    settings = job.server.settings
    outcome = send(attempt, settings.webhook_timeout_seconds)
    status = record(job.db, attempt, outcome, settings)
    return {**result, "status": status, "response_status": outcome.response_status}
