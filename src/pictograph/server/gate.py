"""The API gate: one ASGI middleware for authentication, rate limits and idempotency.

Every request under ``/api/`` passes here before routing. The gate resolves the X-API-Key
to a Principal (kept in ``scope["state"]`` for the routes), counts the request against
the organization's hourly window and adds the X-RateLimit-* headers to the response,
and for POST / PUT / PATCH with an Idempotency-Key replays or records the response.
Requests without a valid key pass through unauthenticated; the routes' own dependency
then answers 401, so public routes (health, signed blob URLs) need no special case here.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pictograph.server.auth import Authenticator, Principal
from pictograph.server.errors import Invalid, RateLimited, ServiceError, Unauthorized
from pictograph.server.idempotency import IdempotencyStore, StoredResponse
from pictograph.server.ratelimit import RateLimiter, tier_limit
from pictograph.server.security import fingerprint

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_IDEMPOTENT_BODY = 10 * 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255


class ApiGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        limiter: RateLimiter | None,
        idempotency: IdempotencyStore,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limiter = limiter
        self.idempotency = idempotency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw_key = headers.get("x-api-key")
        principal: Principal | None = None
        if raw_key:
            try:
                principal = await run_in_threadpool(self.authenticator.authenticate, raw_key)
            except Unauthorized as error:
                await _send_error(send, error)
                return
        scope.setdefault("state", {})["principal"] = principal
        if principal is None:
            await self.app(scope, receive, send)
            return

        rate_headers: dict[str, str] = {}
        if self.limiter is not None:
            if self.limiter.blocking:
                decision = await run_in_threadpool(self._decide, principal)
            else:
                decision = self._decide(principal)
            rate_headers = {
                "X-RateLimit-Limit": str(decision.limit),
                "X-RateLimit-Remaining": str(decision.remaining),
                "X-RateLimit-Reset": str(decision.reset_at),
            }
            if not decision.allowed:
                limited = RateLimited(
                    f"Rate limit of {decision.limit} requests per hour exceeded",
                    retry_after=decision.retry_after,
                )
                await _send_error(send, limited, rate_headers)
                return

        send = _with_headers(send, rate_headers)
        key = headers.get("idempotency-key")
        if key and scope["method"] in WRITE_METHODS:
            if len(key) > MAX_IDEMPOTENCY_KEY:
                # The column holds 255 characters; PostgreSQL would refuse the insert with a 500.
                invalid = Invalid(
                    f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters",
                    loc=["header", "Idempotency-Key"],
                )
                await _send_error(send, invalid)
                return
            await self._idempotent(scope, receive, send, principal, key)
        else:
            await self.app(scope, receive, send)

    def _decide(self, principal: Principal):  # type: ignore[no-untyped-def]
        assert self.limiter is not None
        org = self.limiter.check(f"org:{principal.organization_id}", tier_limit(principal.tier))
        per_key = self.limiter.check(f"key:{principal.api_key_id}", principal.key_rate_limit)
        if not org.allowed or (per_key.allowed and org.remaining <= per_key.remaining):
            return org
        return per_key

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, principal: Principal, key: str
    ) -> None:
        body, complete = await _read_body(receive)
        if not complete:
            # Bodies this large are uploads; hashing them for dedup would cost more than it saves.
            await self.app(scope, _replay(body, receive, more_body=True), send)
            return
        request_hash = fingerprint(
            b"\n".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        )
        org = principal.organization_id
        try:
            stored = await run_in_threadpool(self.idempotency.begin, org, key, request_hash)
        except ServiceError as error:
            await _send_error(send, error)
            return
        if stored is not None:
            await _send_stored(send, stored)
            return

        captured: dict[str, Any] = {"status": 500, "content_type": None, "chunks": [], "finished": False}

        async def finish(result: StoredResponse | None) -> None:
            captured["finished"] = True
            await run_in_threadpool(self.idempotency.finish, org, key, result)

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["content_type"] = Headers(raw=message["headers"]).get("content-type")
            elif message["type"] == "http.response.body":
                captured["chunks"].append(message.get("body", b""))
                if not message.get("more_body", False) and not captured["finished"]:
                    # Store the response before its last byte leaves: a client that retries the
                    # moment it has read the response must get the replay, not "in progress".
                    status = captured["status"]
                    result = None
                    if status < 500:
                        result = StoredResponse(status, b"".join(captured["chunks"]), captured["content_type"])
                    await finish(result)
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), capture)
        finally:
            if not captured["finished"]:
                # The application failed before answering: release the key so a retry runs again.
                await finish(None)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """Read the request body up to MAX_IDEMPOTENT_BODY; the flag says whether it was all read."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_IDEMPOTENT_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive, *, more_body: bool = False) -> Receive:
    """A receive() that hands the already-read body downstream, then defers to the socket."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replayed


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    if not extra:
        return send

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in extra.items():
                headers[name] = value
        await send(message)

    return sender


async def _send_json(send: Send, status: int, payload: Any, headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: ServiceError, headers: dict[str, str] | None = None) -> None:
    await _send_json(send, error.status_code, error.body(), {**(headers or {}), **error.headers})


async def _send_stored(send: Send, stored: StoredResponse) -> None:
    raw = [(b"content-length", str(len(stored.body)).encode()), (b"idempotent-replayed", b"true")]
    if stored.content_type:
        raw.append((b"content-type", stored.content_type.encode()))
    await send({"type": "http.response.start", "status": stored.status_code, "headers": raw})
    await send({"type": "http.response.body", "body": stored.body})
