"""client.organizations, client.api_keys and client.credits against the live server."""

from __future__ import annotations

import uuid

import pytest

from pictograph import Client
from pictograph.exceptions import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
)
from tests.live_server import LiveServer

MISSING = "00000000-0000-0000-0000-000000000000"


def test_me_and_members(client: Client) -> None:
    org = client.organizations.me()
    assert org.id and org.name and org.subscription_tier
    assert org.member_count >= 1
    members = client.organizations.list_members()
    assert any(m.role == "owner" for m in members)


def test_invite_list_revoke(client: Client) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    invite = client.organizations.invite(email, role="member", expires_in_days=14)
    assert invite.email == email and invite.status == "pending" and invite.invite_url
    assert email in {i.email for i in client.organizations.list_invites(status="pending")}
    assert email in {i.email for i in client.organizations.list_invites()}
    client.organizations.revoke_invite(invite.id)
    assert email not in {i.email for i in client.organizations.list_invites(status="pending")}
    assert email in {i.email for i in client.organizations.list_invites(status="revoked")}


def test_invite_errors(client: Client) -> None:
    owner_email = next(m.email for m in client.organizations.list_members() if m.role == "owner")
    with pytest.raises(ConflictError):
        client.organizations.invite(owner_email)
    with pytest.raises(ValidationError):
        client.organizations.invite("not-an-email")
    with pytest.raises(NotFoundError):
        client.organizations.revoke_invite(MISSING)
    with pytest.raises(NotFoundError):
        client.organizations.remove_member(MISSING)


def test_api_key_lifecycle(client: Client, live_server: LiveServer) -> None:
    org = client.organizations.me()
    created = client.api_keys.create(org.id, f"ci-{uuid.uuid4().hex[:6]}", "viewer")
    assert created.full_key.startswith("pk_live_") and created.full_key.startswith(
        created.key_prefix
    )
    assert created.role == "viewer" and created.id

    listed = {k.id: k for k in client.api_keys.list()}
    assert created.id in listed and listed[created.id].key_prefix == created.key_prefix
    assert created.id in {k.id for k in client.api_keys.list(organization_id=org.id)}
    assert not hasattr(listed[created.id], "full_key")

    with Client(api_key=created.full_key, base_url=live_server.base_url) as viewer:
        assert viewer.datasets.list(limit=1) is not None
        with pytest.raises(ForbiddenError):
            viewer.projects.create(f"ds-{uuid.uuid4().hex[:8]}")
        with pytest.raises(ForbiddenError):
            viewer.api_keys.create(org.id, "escalate", "owner")

    renamed = client.api_keys.update(created.id, name="renamed", role="member", rate_limit=500)
    assert (renamed.name, renamed.role, renamed.rate_limit) == ("renamed", "member", 500)
    assert client.api_keys.get(created.id).name == "renamed"
    with pytest.raises(ValidationError):
        client.api_keys.update(created.id)

    client.api_keys.delete(created.id)
    with pytest.raises(NotFoundError):
        client.api_keys.get(created.id)
    with (
        Client(api_key=created.full_key, base_url=live_server.base_url) as revoked,
        pytest.raises(AuthError),
    ):
        revoked.datasets.list()


def test_api_key_validation(client: Client) -> None:
    org = client.organizations.me()
    with pytest.raises(ValidationError):
        client.api_keys.create(org.id, "bad-role", "superuser")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        client.api_keys.create(org.id, "bad-expiry", "viewer", expires_at="not a date")
    with pytest.raises(NotFoundError):
        client.api_keys.get(MISSING)


def test_credits(client: Client) -> None:
    balance = client.credits.balance()
    assert balance.credits_monthly_allowance >= 0
    assert balance.credits_remaining >= 0
    history = client.credits.history(limit=5)
    assert len(history) <= 5
    assert client.credits.iter(page_size=2, max_total=3).all() == client.credits.history(limit=3)

    estimate = client.credits.estimate("training_a10g_per_minute", quantity=30)
    assert estimate.operation == "training_a10g_per_minute" and estimate.quantity == 30
    assert estimate.total_credits == max(estimate.credits_per_unit * 30, estimate.minimum)
    assert estimate.sufficient == (balance.credits_remaining >= estimate.total_credits)
    with pytest.raises(ValidationError):
        client.credits.estimate("no_such_operation")
