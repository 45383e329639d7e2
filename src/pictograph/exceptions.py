"""Every error the SDK raises, and the one table that maps an HTTP status to its exception.

The server answers every failure with one JSON envelope: ``detail`` (a sentence),
``error_code`` (a stable slug), plus ``errors`` on 422 and the credit fields on 402.
:func:`error_from_response` turns that envelope into the matching exception, so callers
catch a specific subclass and never parse bodies themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class PictographError(Exception):
    """Base class of every SDK error: catch it to log and re-raise anything we raise."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(PictographError):
    """No API key from any source, or an unusable base URL / timeout / retry count."""


class NetworkError(PictographError):
    """The request never produced a response: connection refused or reset, DNS, TLS."""


class RequestTimeoutError(NetworkError):
    """A single request exceeded the client's ``timeout``."""


class PollTimeoutError(PictographError):
    """A long-running job did not finish within the caller's ``timeout``.

    The job keeps running on the server; ``job_id`` / ``run_id`` say which one to re-poll.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        run_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id if job_id is not None else run_id
        self.run_id = run_id if run_id is not None else job_id
        self.timeout = timeout


class ApiError(PictographError):
    """The server answered with an error status; also the catch-all for unmapped statuses.

    ``status_code`` is None for errors the SDK raises itself before sending anything
    (for example a client-side :class:`ValidationError`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.request_id = request_id
        self.response = response

    @classmethod
    def _envelope_fields(cls, body: Mapping[str, Any], headers: httpx.Headers) -> dict[str, Any]:
        """Extra constructor arguments a subclass reads from the envelope or headers."""
        return {}

    def __str__(self) -> str:
        extras = [f"status={self.status_code}"] if self.status_code is not None else []
        if self.error_code:
            extras.append(f"error_code={self.error_code}")
        if self.request_id:
            extras.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(extras)})" if extras else self.message


class AuthError(ApiError):
    """401: the API key is missing, malformed, unknown, expired or revoked."""


class ForbiddenError(ApiError):
    """403: the key's role does not allow this operation."""


class NotFoundError(ApiError):
    """404: no such resource in the key's organization (names are case-sensitive)."""


class ConflictError(ApiError):
    """409: duplicate name or filename, or an Idempotency-Key reused with another body."""


class ValidationError(ApiError):
    """400 / 415 / 422, or a payload the SDK rejected before sending it.

    ``errors`` lists every offending field as ``{"loc": [...], "msg": str, "type": str}``.
    """

    def __init__(
        self, message: str, *, errors: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors: list[dict[str, Any]] = errors if errors is not None else []

    @classmethod
    def from_pydantic(
        cls, error: Any, loc: list[Any], what: str, hint: str | None = None
    ) -> ValidationError:
        """The SDK's error for a payload pydantic rejected before sending, fields under ``loc``."""
        errors = [
            {"loc": [*loc, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in error.errors(include_url=False)
        ]
        summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        if hint:
            summary = f"{hint}; {summary}"
        return cls(f"Invalid {what}: {summary}", error_code="validation_error", errors=errors)

    @classmethod
    def _envelope_fields(cls, body: Mapping[str, Any], headers: httpx.Headers) -> dict[str, Any]:
        raw = body.get("errors")
        if raw is None and isinstance(body.get("detail"), list):
            raw = body["detail"]  # FastAPI's default shape, should a proxy pass one through
        return {"errors": [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []}


class PaymentRequiredError(ApiError):
    """402: the organization has too few credits for the operation.

    ``required`` is what the operation costs, ``remaining`` what the organization has.
    """

    def __init__(
        self,
        message: str,
        *,
        required: int | None = None,
        remaining: int | None = None,
        upgrade_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.required = required
        self.remaining = remaining
        self.upgrade_url = upgrade_url

    @property
    def credit_cost(self) -> int | None:
        return self.required

    @property
    def credits_remaining(self) -> int | None:
        return self.remaining

    @classmethod
    def _envelope_fields(cls, body: Mapping[str, Any], headers: httpx.Headers) -> dict[str, Any]:
        detail = body.get("detail")
        nested: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
        sources = (body, nested)
        return {
            "required": _first(sources, "required", "credit_cost"),
            "remaining": _first(sources, "remaining", "credits_remaining"),
            "upgrade_url": _first(sources, "upgrade_url"),
        }


class RateLimitError(ApiError):
    """429: the key's hourly window is spent; ``retry_after`` is seconds until it reopens."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @classmethod
    def _envelope_fields(cls, body: Mapping[str, Any], headers: httpx.Headers) -> dict[str, Any]:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if retry_after is None and isinstance(body.get("retry_after"), (int, float)):
            retry_after = float(body["retry_after"])
        return {"retry_after": retry_after}


class ServerError(ApiError):
    """5xx: a backend failure that persisted through the SDK's retries."""


STATUS_EXCEPTIONS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: ApiError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimitError,
}
"""HTTP status → exception. Any other 5xx is a ServerError, anything else an ApiError."""


def exception_for_status(status_code: int) -> type[ApiError]:
    if status_code in STATUS_EXCEPTIONS:
        return STATUS_EXCEPTIONS[status_code]
    return ServerError if 500 <= status_code < 600 else ApiError


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error response; the body must already be read."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text or None
    envelope: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    detail = envelope.get("detail") or envelope.get("message")
    message = detail if isinstance(detail, str) and detail else f"HTTP {response.status_code}"
    error_code = envelope.get("error_code")
    cls = exception_for_status(response.status_code)
    return cls(
        message,
        status_code=response.status_code,
        error_code=error_code if isinstance(error_code, str) else None,
        request_id=response.headers.get("X-Request-Id"),
        response=body,
        **cls._envelope_fields(envelope, response.headers),
    )


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _first(sources: tuple[Mapping[str, Any], ...], *keys: str) -> Any:
    for source in sources:
        for key in keys:
            if source.get(key) is not None:
                return source[key]
    return None


__all__ = [
    "ApiError",
    "AuthError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "NetworkError",
    "NotFoundError",
    "PaymentRequiredError",
    "PictographError",
    "PollTimeoutError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "ValidationError",
    "error_from_response",
    "exception_for_status",
]
