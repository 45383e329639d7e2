"""API keys over HTTP: create / list / get / update / revoke, the role hierarchy, isolation."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, running_server
from tests.server.helpers import KEYS, ME, ROLES, create_key, http, parse_time

PUBLISHED_API_KEY_FIELDS = {
    "id",
    "organization_id",
    "name",
    "key_prefix",
    "role",
    "rate_limit",
    "is_active",
    "last_used_at",
    "expires_at",
    "created_at",
}
CREATED_FIELDS = {
    # the published CreatedApiKey ...
    "api_key",
    "key_id",
    "key_prefix",
    "name",
    "role",
    "rate_limit",
    "expires_at",
    "created_at",
    # ... and the documented one
    "id",
    "full_key",
}
RoleClient = Callable[[str], httpx.Client]


@pytest.fixture(scope="module")
def role_keys(owner: httpx.Client, org_id: str) -> dict[str, str]:
    """A fresh key of every role, created by the owner."""
    keys = {}
    for role in ROLES:
        response = create_key(owner, org_id, role)
        assert response.status_code == 201, response.text
        keys[role] = response.json()["api_key"]
    return keys


@pytest.fixture()
def as_role(live_server: LiveServer, role_keys: dict[str, str]) -> Iterator[RoleClient]:
    clients: list[httpx.Client] = []

    def make(role: str) -> httpx.Client:
        client = http(live_server, role_keys[role])
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# ───────────── create ─────────────


@pytest.mark.parametrize("role", ROLES)
def test_owner_creates_every_role_and_the_key_works(
    live_server: LiveServer, owner: httpx.Client, org_id: str, role: str
) -> None:
    response = create_key(owner, org_id, role, name=f"ci {role}")
    assert response.status_code == 201, response.text
    body = response.json()
    assert CREATED_FIELDS <= set(body)
    assert body["api_key"] == body["full_key"]
    assert body["key_id"] == body["id"]
    assert body["api_key"].startswith("pk_live_")
    assert body["key_prefix"] == body["api_key"][:12]
    assert body["role"] == role and body["name"] == f"ci {role}"
    assert body["expires_at"] is None
    assert body["rate_limit"] > 0
    parse_time(body["created_at"])
    assert "key_hash" not in body

    with http(live_server, body["api_key"]) as new:
        me = new.get(ME)
        assert me.status_code == 200
        assert me.json()["organization"]["id"] == org_id


def test_create_with_rate_limit_and_expiry(owner: httpx.Client, org_id: str) -> None:
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    response = create_key(owner, org_id, "viewer", rate_limit=42, expires_at=expires.isoformat())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rate_limit"] == 42
    assert parse_time(body["expires_at"]) == expires


def test_naive_expiry_is_read_as_utc(owner: httpx.Client, org_id: str) -> None:
    naive = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    response = create_key(owner, org_id, "viewer", expires_at=naive.isoformat())
    assert response.status_code == 201, response.text
    assert parse_time(response.json()["expires_at"]) == naive.replace(tzinfo=timezone.utc)


def test_default_role_is_member(owner: httpx.Client, org_id: str) -> None:
    response = owner.post(KEYS, json={"organization_id": org_id, "name": "no role given"})
    assert response.status_code == 201
    assert response.json()["role"] == "member"


def test_create_without_trailing_slash(owner: httpx.Client, org_id: str) -> None:
    response = owner.post(KEYS.rstrip("/"), json={"organization_id": org_id, "name": "slashless"})
    assert response.status_code == 201
    assert owner.get(KEYS.rstrip("/")).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "superuser"}, ["role"]),
        ({"role": "Owner"}, ["role"]),
        ({"expires_at": "next tuesday"}, ["expires_at"]),
        ({"expires_at": "2020-01-01T00:00:00Z"}, ["expires_at"]),
        ({"name": ""}, ["name"]),
        ({"name": "x" * 101}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"rate_limit": 0}, ["rate_limit"]),
        ({"rate_limit": "lots"}, ["rate_limit"]),
    ],
)
def test_create_rejects_invalid_fields(
    owner: httpx.Client, org_id: str, body: dict[str, Any], loc: list
) -> None:
    response = owner.post(
        KEYS, json={"organization_id": org_id, "name": "bad", "role": "member", **body}
    )
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error_code"] == "validation_error"
    assert payload["detail"]
    assert payload["errors"][0]["loc"] == loc


def test_create_requires_organization_id_and_name(owner: httpx.Client) -> None:
    response = owner.post(KEYS, json={})
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert {("organization_id",), ("name",)} <= locs


def test_create_for_another_organization_is_404(owner: httpx.Client) -> None:
    response = create_key(owner, str(uuid.uuid4()), "member")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


# ───────────── role hierarchy ─────────────


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewer_and_member_cannot_use_key_endpoints(
    as_role: RoleClient, owner: httpx.Client, org_id: str, role: str
) -> None:
    client = as_role(role)
    some_key = owner.get(KEYS).json()["api_keys"][0]["id"]
    attempts = [
        client.get(KEYS),
        client.post(KEYS, json={"organization_id": org_id, "name": "x", "role": "viewer"}),
        client.get(f"{KEYS}{some_key}"),
        client.patch(f"{KEYS}{some_key}", json={"name": "renamed"}),
        client.delete(f"{KEYS}{some_key}"),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.method, response.text)
        assert response.json()["error_code"] == "forbidden"
        assert response.json()["detail"]


@pytest.mark.parametrize("target", ["viewer", "member", "admin"])
def test_admin_creates_roles_up_to_admin(as_role: RoleClient, org_id: str, target: str) -> None:
    response = create_key(as_role("admin"), org_id, target)
    assert response.status_code == 201, response.text
    assert response.json()["role"] == target


def test_admin_cannot_create_owner(as_role: RoleClient, owner: httpx.Client, org_id: str) -> None:
    before = owner.get(KEYS).json()["total"]
    response = create_key(as_role("admin"), org_id, "owner")
    assert response.status_code == 403
    assert response.json()["error_code"] == "forbidden"
    assert owner.get(KEYS).json()["total"] == before


def test_admin_cannot_modify_or_revoke_an_owner_key(
    as_role: RoleClient, owner: httpx.Client, org_id: str
) -> None:
    owner_key = create_key(owner, org_id, "owner").json()
    admin = as_role("admin")
    # Reading is fine; changing is not.
    assert admin.get(f"{KEYS}{owner_key['id']}").status_code == 200
    assert admin.patch(f"{KEYS}{owner_key['id']}", json={"name": "pwned"}).status_code == 403
    assert admin.patch(f"{KEYS}{owner_key['id']}", json={"is_active": False}).status_code == 403
    assert admin.delete(f"{KEYS}{owner_key['id']}").status_code == 403
    assert owner.get(f"{KEYS}{owner_key['id']}").json()["api_key"]["name"] == owner_key["name"]


def test_admin_cannot_promote_a_key_to_owner(
    as_role: RoleClient, owner: httpx.Client, org_id: str
) -> None:
    member_key = create_key(owner, org_id, "member").json()
    response = as_role("admin").patch(f"{KEYS}{member_key['id']}", json={"role": "owner"})
    assert response.status_code == 403
    assert owner.get(f"{KEYS}{member_key['id']}").json()["api_key"]["role"] == "member"


def test_admin_manages_lower_keys(as_role: RoleClient, owner: httpx.Client, org_id: str) -> None:
    admin = as_role("admin")
    key = create_key(owner, org_id, "viewer").json()
    response = admin.patch(f"{KEYS}{key['id']}", json={"role": "admin", "name": "promoted"})
    assert response.status_code == 200, response.text
    assert response.json()["api_key"]["role"] == "admin"
    assert admin.delete(f"{KEYS}{key['id']}").status_code == 200


# ───────────── list / get ─────────────


def test_list_shows_metadata_only(owner: httpx.Client, org_id: str) -> None:
    created = create_key(owner, org_id, "viewer", name="list-me").json()
    response = owner.get(KEYS)
    assert response.status_code == 200
    body = response.json()
    assert {"api_keys", "total", "limit", "offset"} <= set(body)
    assert body["total"] >= len(body["api_keys"]) >= 2
    for key in body["api_keys"]:
        assert PUBLISHED_API_KEY_FIELDS <= set(key)
        assert key["organization_id"] == org_id
        assert not {"key_hash", "api_key", "full_key", "key"} & set(key)
        assert len(key["key_prefix"]) == 12
    assert created["api_key"] not in response.text
    listed = next(k for k in body["api_keys"] if k["id"] == created["id"])
    assert listed["name"] == "list-me" and listed["is_active"] is True


def test_list_pages(owner: httpx.Client, org_id: str) -> None:
    for _ in range(3):
        create_key(owner, org_id, "viewer")
    everything = owner.get(KEYS).json()
    page = owner.get(KEYS, params={"limit": 2, "offset": 1}).json()
    assert page["limit"] == 2 and page["offset"] == 1
    assert page["total"] == everything["total"]
    assert [k["id"] for k in page["api_keys"]] == [k["id"] for k in everything["api_keys"][1:3]]
    assert owner.get(KEYS, params={"limit": 0}).status_code == 422


def test_list_with_own_organization_id(owner: httpx.Client, org_id: str) -> None:
    response = owner.get(KEYS, params={"organization_id": org_id})
    assert response.status_code == 200
    assert all(k["organization_id"] == org_id for k in response.json()["api_keys"])


def test_list_for_another_organization_is_404(owner: httpx.Client) -> None:
    assert owner.get(KEYS, params={"organization_id": str(uuid.uuid4())}).status_code == 404


def test_get_key(owner: httpx.Client, org_id: str) -> None:
    created = create_key(owner, org_id, "member", name="get-me").json()
    response = owner.get(f"{KEYS}{created['id']}")
    assert response.status_code == 200
    key = response.json()["api_key"]
    assert PUBLISHED_API_KEY_FIELDS <= set(key)
    assert key["id"] == created["id"] and key["name"] == "get-me"
    assert key["key_prefix"] == created["key_prefix"]
    assert "key_hash" not in key and created["api_key"] not in response.text


def test_get_unknown_key_is_404(owner: httpx.Client) -> None:
    response = owner.get(f"{KEYS}{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


def test_last_used_at_is_recorded(
    live_server: LiveServer, owner: httpx.Client, org_id: str
) -> None:
    created = create_key(owner, org_id, "viewer").json()
    assert created["last_used_at"] is None
    with http(live_server, created["api_key"]) as new:
        assert new.get(ME).status_code == 200
    key = owner.get(f"{KEYS}{created['id']}").json()["api_key"]
    assert key["last_used_at"] is not None
    parse_time(key["last_used_at"])


# ───────────── update ─────────────


def test_update_each_field(owner: httpx.Client, org_id: str) -> None:
    key = create_key(owner, org_id, "viewer").json()
    url = f"{KEYS}{key['id']}"
    expires = (datetime.now(timezone.utc) + timedelta(days=90)).replace(microsecond=0)

    updated = owner.patch(url, json={"name": "renamed", "role": "admin"}).json()["api_key"]
    assert (updated["name"], updated["role"]) == ("renamed", "admin")
    updated = owner.patch(url, json={"expires_at": expires.isoformat()}).json()["api_key"]
    assert parse_time(updated["expires_at"]) == expires
    updated = owner.patch(url, json={"expires_at": None}).json()["api_key"]
    assert updated["expires_at"] is None
    updated = owner.patch(url, json={"rate_limit": 77, "is_active": False}).json()["api_key"]
    assert (updated["rate_limit"], updated["is_active"]) == (77, False)
    # Fields not sent are left alone.
    assert updated["name"] == "renamed" and updated["role"] == "admin"
    assert owner.get(url).json()["api_key"] == updated


def test_role_change_takes_effect_at_once(
    live_server: LiveServer, owner: httpx.Client, org_id: str
) -> None:
    key = create_key(owner, org_id, "viewer").json()
    with http(live_server, key["api_key"]) as client:
        assert client.get(KEYS).status_code == 403
        assert owner.patch(f"{KEYS}{key['id']}", json={"role": "admin"}).status_code == 200
        assert client.get(KEYS).status_code == 200
        assert owner.patch(f"{KEYS}{key['id']}", json={"role": "viewer"}).status_code == 200
        assert client.get(KEYS).status_code == 403


def test_deactivated_key_is_refused_until_reactivated(
    live_server: LiveServer, owner: httpx.Client, org_id: str
) -> None:
    key = create_key(owner, org_id, "viewer").json()
    with http(live_server, key["api_key"]) as client:
        assert client.get(ME).status_code == 200
        assert owner.patch(f"{KEYS}{key['id']}", json={"is_active": False}).status_code == 200
        refused = client.get(ME)
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "unauthorized"
        assert owner.patch(f"{KEYS}{key['id']}", json={"is_active": True}).status_code == 200
        assert client.get(ME).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, []),
        ({"role": "god"}, ["role"]),
        ({"role": None}, ["role"]),
        ({"expires_at": "not a date"}, ["expires_at"]),
        ({"expires_at": "2001-01-01T00:00:00+00:00"}, ["expires_at"]),
        ({"name": ""}, ["name"]),
        ({"rate_limit": -1}, ["rate_limit"]),
        ({"is_active": "maybe"}, ["is_active"]),
        ({"key_hash": "x"}, ["key_hash"]),
    ],
)
def test_update_rejects_invalid_fields(
    owner: httpx.Client, org_id: str, body: dict[str, Any], loc: list
) -> None:
    key = create_key(owner, org_id, "viewer").json()
    response = owner.patch(f"{KEYS}{key['id']}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "validation_error"
    assert response.json()["errors"][0]["loc"] == loc


def test_update_unknown_key_is_404(owner: httpx.Client) -> None:
    assert owner.patch(f"{KEYS}{uuid.uuid4()}", json={"name": "x"}).status_code == 404


# ───────────── revoke ─────────────


def test_revoke_is_immediate_and_final(
    live_server: LiveServer, owner: httpx.Client, org_id: str
) -> None:
    key = create_key(owner, org_id, "admin").json()
    with http(live_server, key["api_key"]) as client:
        assert client.get(KEYS).status_code == 200  # now cached by the server
        response = owner.delete(f"{KEYS}{key['id']}")
        assert response.status_code == 200
        assert response.json()["deleted"] is True and response.json()["id"] == key["id"]
        refused = client.get(ME)
        assert refused.status_code == 401
        assert set(refused.json()) >= {"detail", "error_code"}
        assert refused.json()["error_code"] == "unauthorized"
    assert owner.get(f"{KEYS}{key['id']}").status_code == 404
    assert owner.patch(f"{KEYS}{key['id']}", json={"is_active": True}).status_code == 404
    assert owner.delete(f"{KEYS}{key['id']}").status_code == 404
    assert key["id"] not in [k["id"] for k in owner.get(KEYS).json()["api_keys"]]


def test_a_key_may_revoke_itself(live_server: LiveServer, owner: httpx.Client, org_id: str) -> None:
    key = create_key(owner, org_id, "admin").json()
    with http(live_server, key["api_key"]) as client:
        assert client.delete(f"{KEYS}{key['id']}").status_code == 200
        assert client.get(ME).status_code == 401


# ───────────── the last owner key, on a server of its own ─────────────


@pytest.fixture()
def fresh_server(live_server: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    """A new install (same backend as ``live_server``) whose only owner key is the bootstrap one."""
    with running_server(live_server.backend, tmp_path) as server:
        yield server


def test_the_last_owner_key_cannot_be_lost(fresh_server: LiveServer) -> None:
    with http(fresh_server, fresh_server.api_key) as owner:
        org = owner.get(ME).json()["organization"]["id"]
        (bootstrap,) = owner.get(KEYS).json()["api_keys"]
        url = f"{KEYS}{bootstrap['id']}"
        for response in (
            owner.delete(url),
            owner.patch(url, json={"is_active": False}),
            owner.patch(url, json={"role": "admin"}),
        ):
            assert response.status_code == 409, response.text
            assert response.json()["error_code"] == "last_owner_key"
        # Renaming it is harmless.
        assert owner.patch(url, json={"name": "still the owner"}).status_code == 200

        second = create_key(owner, org, "owner").json()
        assert owner.delete(url).status_code == 200
        assert owner.get(ME).status_code == 401
    with http(fresh_server, second["api_key"]) as new_owner:
        assert new_owner.delete(f"{KEYS}{second['id']}").status_code == 409
        assert [k["id"] for k in new_owner.get(KEYS).json()["api_keys"]] == [second["id"]]
