"""Service-level errors. Services raise these; app.py turns each into the one JSON envelope.

The envelope is ``{"detail": str, "error_code": str}`` plus ``errors`` (a list of
``{loc, msg, type}``) on 422 and the credit fields on 402, as the Error handling page documents.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status_code = 400
    error_code = "bad_request"

    def __init__(self, detail: str, *, error_code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if error_code is not None:
            self.error_code = error_code
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "error_code": self.error_code, **self.extra}


class Unauthorized(ServiceError):
    status_code = 401
    error_code = "unauthorized"


class PaymentRequired(ServiceError):
    status_code = 402
    error_code = "insufficient_credits"

    def __init__(self, detail: str, *, required: int, remaining: int, upgrade_url: str) -> None:
        super().__init__(
            detail,
            required=required,
            remaining=remaining,
            credit_cost=required,
            credits_remaining=remaining,
            upgrade_url=upgrade_url,
        )


class Forbidden(ServiceError):
    status_code = 403
    error_code = "forbidden"


class NotFound(ServiceError):
    status_code = 404
    error_code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    error_code = "conflict"


class PayloadTooLarge(ServiceError):
    status_code = 413
    error_code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    error_code = "unsupported_media_type"


class Invalid(ServiceError):
    """422 with the offending fields: ``errors`` is a list of ``{loc, msg, type}``."""

    status_code = 422
    error_code = "validation_error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        loc: list[Any] | None = None,
        error_code: str | None = None,
        **extra: Any,
    ) -> None:
        if errors is None:
            errors = [{"loc": loc or [], "msg": detail, "type": "value_error"}]
        super().__init__(detail, error_code=error_code, errors=errors, **extra)


def one_of(value: Any, allowed: tuple[str, ...], field: str) -> str:
    """``value`` when it is one of ``allowed``; otherwise 422 naming ``field``."""
    if value not in allowed:
        raise Invalid(
            f"Invalid {field} {value!r}; expected one of {', '.join(allowed)}", loc=[field]
        )
    return str(value)


class RateLimited(ServiceError):
    status_code = 429
    error_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers["Retry-After"] = str(retry_after)
