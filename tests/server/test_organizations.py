"""Organizations over HTTP: the org itself, members, invites, the role rules, isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from pictograph.server.db.tables import Invite
from tests.live_server import LiveServer
from tests.server.helpers import KEYS, ROLES, add_key, database, http, parse_time

BASE = "/api/v1/developer/organizations"
ACCEPT = "/api/v1/developer/invites/{token}/accept"
PUBLISHED_ORG_FIELDS = {
    "id",
    "name",
    "slug",
    "subscription_tier",
    "credits_remaining",
    "credits_monthly_allowance",
    "credits_reset_at",
    "max_users",
    "max_images",
    "max_storage_bytes",
    "member_count",
    "pending_invite_count",
    "created_at",
    "updated_at",
}
MEMBER_FIELDS = {"id", "user_id", "email", "full_name", "role", "joined_at"}
INVITE_FIELDS = {
    "id",
    "organization_id",
    "email",
    "role",
    "status",
    "invited_by",
    "expires_at",
    "created_at",
}


def email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"


def invite(
    client: httpx.Client, address: str, role: str = "member", **extra: Any
) -> httpx.Response:
    return client.post(f"{BASE}/invites", json={"email": address, "role": role, **extra})


def join(live_server: LiveServer, owner: httpx.Client, role: str) -> dict[str, Any]:
    """Invite a new user with ``role`` and accept; returns the new member row."""
    response = invite(owner, email(), role)
    assert response.status_code == 201, response.text
    token = response.json()["invite"]["invite_url"].rsplit("/", 1)[1]
    with http(live_server, None) as anonymous:
        accepted = anonymous.post(ACCEPT.format(token=token), json={"full_name": "New Person"})
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["member"]


def member_ids(owner: httpx.Client) -> set[str]:
    return {m["id"] for m in owner.get(f"{BASE}/members").json()["members"]}


# ───────────── me ─────────────


def test_me(owner: httpx.Client, live_server: LiveServer) -> None:
    response = owner.get(f"{BASE}/me")
    assert response.status_code == 200
    org = response.json()["organization"]
    assert PUBLISHED_ORG_FIELDS | {"billing_email"} <= set(org)
    assert org["subscription_tier"] == "enterprise"
    assert org["credits_monthly_allowance"] == 10_000
    assert org["member_count"] >= 1
    assert org["max_users"] >= 1
    for field in ("created_at", "updated_at", "credits_reset_at"):
        parse_time(org[field])


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads(clients: dict[str, httpx.Client], role: str) -> None:
    client = clients[role]
    assert client.get(f"{BASE}/me").status_code == 200
    assert client.get(f"{BASE}/members").status_code == 200
    assert client.get(f"{BASE}/invites").status_code == 200


def test_counts_follow_members_and_invites(live_server: LiveServer, owner: httpx.Client) -> None:
    before = owner.get(f"{BASE}/me").json()["organization"]
    created = invite(owner, email()).json()["invite"]
    during = owner.get(f"{BASE}/me").json()["organization"]
    assert during["pending_invite_count"] == before["pending_invite_count"] + 1
    owner.delete(f"{BASE}/invites/{created['id']}")
    join(live_server, owner, "viewer")
    after = owner.get(f"{BASE}/me").json()["organization"]
    assert after["pending_invite_count"] == before["pending_invite_count"]
    assert after["member_count"] == before["member_count"] + 1


# ───────────── members ─────────────


def test_list_members(owner: httpx.Client, org_id: str) -> None:
    response = owner.get(f"{BASE}/members")
    assert response.status_code == 200
    body = response.json()
    assert {"members", "total", "limit", "offset"} <= set(body)
    assert body["total"] == len(body["members"])
    for member in body["members"]:
        assert MEMBER_FIELDS <= set(member)
        parse_time(member["joined_at"])
    bootstrap = next(m for m in body["members"] if m["email"] == "owner@localhost")
    assert bootstrap["role"] == "owner"


def test_accepted_invite_becomes_a_member(live_server: LiveServer, owner: httpx.Client) -> None:
    member = join(live_server, owner, "member")
    listed = next(
        m for m in owner.get(f"{BASE}/members").json()["members"] if m["id"] == member["id"]
    )
    assert listed["role"] == "member" and listed["full_name"] == "New Person"


def test_owner_changes_roles(live_server: LiveServer, owner: httpx.Client) -> None:
    member = join(live_server, owner, "viewer")
    for role in ("member", "admin", "owner", "viewer"):
        response = owner.patch(f"{BASE}/members/{member['id']}", json={"role": role})
        assert response.status_code == 200, response.text
        assert response.json()["member"]["id"] == member["id"]
        assert response.json()["member"]["role"] == role


def test_admin_sets_roles_up_to_admin(
    live_server: LiveServer, owner: httpx.Client, clients
) -> None:
    admin = clients["admin"]
    member = join(live_server, owner, "viewer")
    url = f"{BASE}/members/{member['id']}"
    assert admin.patch(url, json={"role": "admin"}).json()["member"]["role"] == "admin"
    denied = admin.patch(url, json={"role": "owner"})
    assert denied.status_code == 403
    assert denied.json()["error_code"] == "forbidden"


def test_admin_cannot_touch_an_owner(
    live_server: LiveServer, owner: httpx.Client, clients: dict[str, httpx.Client]
) -> None:
    member = join(live_server, owner, "admin")
    url = f"{BASE}/members/{member['id']}"
    assert owner.patch(url, json={"role": "owner"}).status_code == 200
    admin = clients["admin"]
    assert admin.patch(url, json={"role": "member"}).status_code == 403
    assert admin.delete(url).status_code == 403
    # An owner may remove another owner.
    assert owner.delete(url).status_code == 200
    assert member["id"] not in member_ids(owner)


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_viewer_and_member_cannot_manage_members(
    live_server: LiveServer,
    owner: httpx.Client,
    clients: dict[str, httpx.Client],
    role: str,
) -> None:
    member = join(live_server, owner, "viewer")
    client = clients[role]
    for response in (
        client.patch(f"{BASE}/members/{member['id']}", json={"role": "viewer"}),
        client.delete(f"{BASE}/members/{member['id']}"),
    ):
        assert response.status_code == 403
        assert response.json()["error_code"] == "forbidden"
    assert member["id"] in member_ids(owner)


def test_admin_removes_a_member(
    live_server: LiveServer, owner: httpx.Client, clients: dict[str, httpx.Client]
) -> None:
    member = join(live_server, owner, "member")
    response = clients["admin"].delete(f"{BASE}/members/{member['id']}")
    assert response.status_code == 200
    assert response.json()["deleted"] is True
    assert member["id"] not in member_ids(owner)
    assert clients["admin"].delete(f"{BASE}/members/{member['id']}").status_code == 404


def test_the_last_owner_stays(owner: httpx.Client) -> None:
    owners = [m for m in owner.get(f"{BASE}/members").json()["members"] if m["role"] == "owner"]
    assert len(owners) == 1, "other tests must not leave extra owners behind"
    url = f"{BASE}/members/{owners[0]['id']}"
    demote = owner.patch(url, json={"role": "admin"})
    assert demote.status_code == 422
    assert demote.json()["error_code"] == "validation_error"
    remove = owner.delete(url)
    assert remove.status_code == 422
    assert owners[0]["id"] in member_ids(owner)


def test_member_role_validation(live_server: LiveServer, owner: httpx.Client) -> None:
    member = join(live_server, owner, "viewer")
    url = f"{BASE}/members/{member['id']}"
    for body, loc in (
        ({"role": "boss"}, ["role"]),
        ({}, ["role"]),
        ({"role": "admin", "x": 1}, ["x"]),
    ):
        response = owner.patch(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == loc


def test_unknown_member_is_404(owner: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert owner.patch(f"{BASE}/members/{missing}", json={"role": "viewer"}).status_code == 404
    response = owner.delete(f"{BASE}/members/{missing}")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


# ───────────── invites ─────────────


def test_create_invite(live_server: LiveServer, owner: httpx.Client, org_id: str) -> None:
    address = email()
    response = invite(owner, f"  {address.upper()} ", "viewer")
    assert response.status_code == 201, response.text
    created = response.json()["invite"]
    assert INVITE_FIELDS | {"invite_url"} <= set(created)
    assert created["email"] == address
    assert created["role"] == "viewer" and created["status"] == "pending"
    assert created["organization_id"] == org_id
    assert created["invite_url"].startswith(f"{live_server.base_url}/invites/")
    lifetime = parse_time(created["expires_at"]) - parse_time(created["created_at"])
    assert lifetime == timedelta(days=7)


def test_invite_expiry_days(owner: httpx.Client) -> None:
    created = invite(owner, email(), expires_in_days=14).json()["invite"]
    assert parse_time(created["expires_at"]) - parse_time(created["created_at"]) == timedelta(
        days=14
    )


def test_invite_token_is_not_listed(owner: httpx.Client) -> None:
    created = invite(owner, email()).json()["invite"]
    token = created["invite_url"].rsplit("/", 1)[1]
    listing = owner.get(f"{BASE}/invites")
    assert token not in listing.text
    listed = next(i for i in listing.json()["invites"] if i["id"] == created["id"])
    assert INVITE_FIELDS <= set(listed)


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"email": "not-an-email"}, 422, ["email"]),
        ({"email": "a@"}, 422, ["email"]),
        ({"email": "two words@example.com"}, 422, ["email"]),
        ({"email": None}, 422, ["email"]),
        ({"role": "owner"}, 422, ["role"]),
        ({"role": "emperor"}, 422, ["role"]),
        ({"expires_in_days": 0}, 422, ["expires_in_days"]),
        ({"expires_in_days": 1000}, 422, ["expires_in_days"]),
    ],
)
def test_invite_validation(
    owner: httpx.Client, body: dict[str, Any], status: int, loc: list[Any]
) -> None:
    response = owner.post(f"{BASE}/invites", json={"email": email(), "role": "member", **body})
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == "validation_error"
    assert response.json()["errors"][0]["loc"] == loc


def test_invite_conflicts(owner: httpx.Client) -> None:
    member = invite(owner, "owner@localhost")
    assert member.status_code == 409
    assert member.json()["error_code"] == "already_member"
    address = email()
    assert invite(owner, address).status_code == 201
    again = invite(owner, address.upper(), "viewer")
    assert again.status_code == 409
    assert again.json()["error_code"] == "invite_pending"


def test_invite_permissions(clients: dict[str, httpx.Client]) -> None:
    for role in ("viewer", "member"):
        response = invite(clients[role], email())
        assert response.status_code == 403
        assert response.json()["error_code"] == "forbidden"
    assert invite(clients["admin"], email(), "admin").status_code == 201
    assert invite(clients["admin"], email(), "viewer").status_code == 201


def test_revoke_invite(
    live_server: LiveServer, owner: httpx.Client, clients: dict[str, httpx.Client]
) -> None:
    created = invite(owner, email()).json()["invite"]
    assert clients["member"].delete(f"{BASE}/invites/{created['id']}").status_code == 403
    response = clients["admin"].delete(f"{BASE}/invites/{created['id']}")
    assert response.status_code == 200
    assert response.json()["invite"]["status"] == "revoked"
    # Revoking twice is a no-op; the URL no longer works.
    assert owner.delete(f"{BASE}/invites/{created['id']}").status_code == 200
    token = created["invite_url"].rsplit("/", 1)[1]
    with http(live_server, None) as anonymous:
        assert anonymous.post(ACCEPT.format(token=token)).status_code == 404
    revoked = owner.get(f"{BASE}/invites", params={"status": "revoked"}).json()["invites"]
    assert created["id"] in [i["id"] for i in revoked]
    pending = owner.get(f"{BASE}/invites", params={"status": "pending"}).json()["invites"]
    assert created["id"] not in [i["id"] for i in pending]
    # A revoked invite frees the address for a new one.
    assert invite(owner, created["email"]).status_code == 201


def test_accepted_invite_cannot_be_revoked_or_reused(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    created = invite(owner, email()).json()["invite"]
    token = created["invite_url"].rsplit("/", 1)[1]
    with http(live_server, None) as anonymous:
        assert anonymous.post(ACCEPT.format(token=token)).status_code == 201
        assert anonymous.post(ACCEPT.format(token=token)).status_code == 404
    assert owner.delete(f"{BASE}/invites/{created['id']}").status_code == 422
    accepted = owner.get(f"{BASE}/invites", params={"status": "accepted"}).json()["invites"]
    assert created["id"] in [i["id"] for i in accepted]
    assert invite(owner, created["email"]).status_code == 409


def test_unknown_invite_is_404(owner: httpx.Client, live_server: LiveServer) -> None:
    assert owner.delete(f"{BASE}/invites/{uuid.uuid4()}").status_code == 404
    with http(live_server, None) as anonymous:
        assert anonymous.post(ACCEPT.format(token="no-such-token")).status_code == 404


def test_list_invites_filters_and_pages(owner: httpx.Client) -> None:
    for _ in range(3):
        invite(owner, email())
    everything = owner.get(f"{BASE}/invites").json()
    assert {"invites", "total", "limit", "offset"} <= set(everything)
    assert everything["total"] == len(everything["invites"]) >= 3
    page = owner.get(f"{BASE}/invites", params={"limit": 2, "offset": 1}).json()
    assert [i["id"] for i in page["invites"]] == [i["id"] for i in everything["invites"][1:3]]
    assert page["total"] == everything["total"]
    for status in ("pending", "accepted", "revoked", "expired"):
        listed = owner.get(f"{BASE}/invites", params={"status": status}).json()["invites"]
        assert all(i["status"] == status for i in listed)
    bad = owner.get(f"{BASE}/invites", params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["status"]


def test_pending_invite_past_expiry_reads_as_expired(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    created = invite(owner, email()).json()["invite"]
    db = database(live_server)
    try:
        with db.session() as session:
            session.execute(
                update(Invite)
                .where(Invite.id == created["id"])
                .values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
            )
    finally:
        db.dispose()
    expired = owner.get(f"{BASE}/invites", params={"status": "expired"}).json()["invites"]
    assert created["id"] in [i["id"] for i in expired]
    pending = owner.get(f"{BASE}/invites", params={"status": "pending"}).json()["invites"]
    assert created["id"] not in [i["id"] for i in pending]
    everything = owner.get(f"{BASE}/invites").json()["invites"]
    assert next(i for i in everything if i["id"] == created["id"])["status"] == "expired"
    assert owner.delete(f"{BASE}/invites/{created['id']}").status_code == 422
    token = created["invite_url"].rsplit("/", 1)[1]
    with http(live_server, None) as anonymous:
        assert anonymous.post(ACCEPT.format(token=token)).status_code == 404
    # An expired invite does not block a new one.
    assert invite(owner, created["email"]).status_code == 201


# ───────────── isolation between organizations ─────────────


def make_org(live_server: LiveServer, **fields: Any) -> str:
    """A further organization with its own owner key, written straight into the database."""
    return add_key(
        live_server,
        "owner",
        new_org=True,
        org_fields={
            "subscription_tier": "free",
            "credits_remaining": 0,
            "credits_monthly_allowance": 0,
            **fields,
        },
        rate_limit=1000,
    )


@pytest.fixture(scope="module")
def other_org(live_server: LiveServer) -> Iterator[httpx.Client]:
    with http(live_server, make_org(live_server)) as client:
        yield client


def test_member_cap_counts_pending_invites(live_server: LiveServer) -> None:
    with http(live_server, make_org(live_server, max_users=2)) as small:
        assert small.get(f"{BASE}/me").json()["organization"]["max_users"] == 2
        assert invite(small, email()).status_code == 201
        second = invite(small, email())
        assert second.status_code == 201
        full = invite(small, email())
        assert full.status_code == 402
        assert full.json()["error_code"] == "member_limit_reached"
        assert full.json()["detail"]
        # Revoking a pending invite frees its seat.
        assert small.delete(f"{BASE}/invites/{second.json()['invite']['id']}").status_code == 200
        assert invite(small, email()).status_code == 201


def test_other_organization_sees_nothing_of_ours(
    live_server: LiveServer, owner: httpx.Client, org_id: str, other_org: httpx.Client
) -> None:
    theirs = other_org.get(f"{BASE}/me").json()["organization"]
    assert theirs["id"] != org_id and theirs["member_count"] == 0

    member = join(live_server, owner, "viewer")
    pending = invite(owner, email()).json()["invite"]
    our_key = owner.get(KEYS).json()["api_keys"][0]

    assert other_org.get(f"{BASE}/members").json()["members"] == []
    assert other_org.get(f"{BASE}/invites").json()["invites"] == []
    assert (
        other_org.patch(f"{BASE}/members/{member['id']}", json={"role": "admin"}).status_code == 404
    )
    assert other_org.delete(f"{BASE}/members/{member['id']}").status_code == 404
    assert other_org.delete(f"{BASE}/invites/{pending['id']}").status_code == 404
    assert [k["organization_id"] for k in other_org.get(KEYS).json()["api_keys"]] == [theirs["id"]]
    assert other_org.get(KEYS, params={"organization_id": org_id}).status_code == 404
    assert other_org.get(f"{KEYS}{our_key['id']}").status_code == 404
    assert other_org.patch(f"{KEYS}{our_key['id']}", json={"name": "x"}).status_code == 404
    assert other_org.delete(f"{KEYS}{our_key['id']}").status_code == 404
    created = other_org.post(
        KEYS, json={"organization_id": org_id, "name": "sneaky", "role": "owner"}
    )
    assert created.status_code == 404

    # Nothing of ours changed.
    assert member["id"] in member_ids(owner)
    assert owner.get(f"{KEYS}{our_key['id']}").json()["api_key"]["name"] == our_key["name"]

    # And the same email may be invited by each organization separately.
    assert invite(other_org, pending["email"]).status_code == 201
