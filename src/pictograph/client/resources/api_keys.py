"""``client.api_keys``: issue, list, change and revoke API keys (admin role and up);
``me()`` — the calling key itself — works for every role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pictograph.client.resources import Resource, path_segment
from pictograph.exceptions import ValidationError
from pictograph.models.api_key import ApiKey, ApiKeyRole, CreatedApiKey

_PATH = "/api/v1/api-keys/"


class ApiKeys(Resource):
    def list(self, organization_id: str | None = None) -> list[ApiKey]:
        """Key metadata (never the secrets) for the key's organization or ``organization_id``."""
        body = self._transport.request("GET", _PATH, params={"organization_id": organization_id})
        return self._parse_list(ApiKey, body.get("api_keys"))

    def create(
        self,
        organization_id: str,
        name: str,
        role: ApiKeyRole,
        *,
        expires_at: datetime | str | None = None,
        rate_limit: int | None = None,
        idempotency_key: str | None = None,
    ) -> CreatedApiKey:
        """Issue a key. ``full_key`` on the result is the only time the secret is shown."""
        body: dict[str, Any] = {"organization_id": organization_id, "name": name, "role": role}
        if expires_at is not None:
            body["expires_at"] = _iso(expires_at)
        if rate_limit is not None:
            body["rate_limit"] = rate_limit
        response = self._transport.request(
            "POST", _PATH, json=body, idempotency_key=idempotency_key
        )
        return self._parse(CreatedApiKey, response)

    def me(self) -> ApiKey:
        """The key this client authenticates with (any role): its id, name, role and org."""
        body = self._transport.request("GET", f"{_PATH}me")
        return self._parse(ApiKey, body["api_key"])

    def get(self, key_id: str) -> ApiKey:
        body = self._transport.request("GET", f"{_PATH}{path_segment(key_id)}")
        return self._parse(ApiKey, body["api_key"])

    def update(
        self,
        key_id: str,
        *,
        name: str | None = None,
        role: ApiKeyRole | None = None,
        expires_at: datetime | str | None = None,
        rate_limit: int | None = None,
        is_active: bool | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKey:
        """Change the given fields; the secret itself never changes (rotate by create + delete)."""
        body: dict[str, Any] = {
            key: value
            for key, value in {
                "name": name,
                "role": role,
                "expires_at": _iso(expires_at) if expires_at is not None else None,
                "rate_limit": rate_limit,
                "is_active": is_active,
            }.items()
            if value is not None
        }
        if not body:
            raise ValidationError(
                "api_keys.update needs at least one of name, role, expires_at, rate_limit, is_active",
                errors=[{"loc": ["body"], "msg": "no field to update", "type": "value_error"}],
            )
        response = self._transport.request(
            "PATCH", f"{_PATH}{path_segment(key_id)}", json=body, idempotency_key=idempotency_key
        )
        return self._parse(ApiKey, response["api_key"])

    def delete(self, key_id: str) -> None:
        """Revoke the key at once: requests made with it then fail with AuthError."""
        self._transport.request("DELETE", f"{_PATH}{path_segment(key_id)}")


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
