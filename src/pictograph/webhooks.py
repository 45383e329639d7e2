"""Webhook signatures: how the server signs a delivery and how a receiver checks it.

Every delivery carries ``X-Pictograph-Timestamp`` (unix seconds) and
``X-Pictograph-Signature: sha256=<hex>``, the HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed
with the webhook's secret. Signing the timestamp with the body lets a receiver refuse a
captured request replayed later: :func:`verify_signature` rejects timestamps more than
``tolerance_seconds`` away from its own clock. Pure standard library, so a receiver needs
nothing else::

    from pictograph.webhooks import verify_signature

    ok = verify_signature(secret, request.headers["X-Pictograph-Timestamp"], raw_body,
                          request.headers["X-Pictograph-Signature"])

Verify the raw body bytes as received, before any JSON parsing re-serializes them.
"""

from __future__ import annotations

import hashlib
import hmac
import time

EVENT_HEADER = "X-Pictograph-Event"
DELIVERY_HEADER = "X-Pictograph-Delivery"
TIMESTAMP_HEADER = "X-Pictograph-Timestamp"
SIGNATURE_HEADER = "X-Pictograph-Signature"
SIGNATURE_SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """The ``X-Pictograph-Signature`` value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: str | bytes,
    header: str,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when ``header`` is the signature of ``body`` at ``timestamp`` under ``secret`` and
    ``timestamp`` lies within ``tolerance_seconds`` of now; False for anything else (a wrong
    secret, a changed body, a stale or malformed timestamp, a malformed header)."""
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(time.time() - sent_at) > tolerance_seconds:
        return False
    expected = sign(secret, sent_at, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))
