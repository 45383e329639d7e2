"""The API gate end to end: authentication, rate-limit headers and 429s, idempotent replays,
and the one error envelope every failure uses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.live_server import LiveServer, running_server, start_server
from tests.server.helpers import KEYS, ME, assert_envelope, http, new_key

BALANCE = "/api/v1/developer/credits/balance"
GRANT = "/api/v1/developer/credits/grant"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


# ───────────── authentication ─────────────

PROTECTED = [
    ("GET", ME),
    ("GET", KEYS),
    ("GET", BALANCE),
    ("GET", "/api/v1/developer/organizations/members"),
    ("POST", GRANT),
    ("PATCH", f"{KEYS}00000000-0000-4000-8000-000000000001"),
    ("DELETE", f"{KEYS}00000000-0000-4000-8000-000000000002"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_missing_key_is_401(live_server: LiveServer, method: str, path: str) -> None:
    with http(live_server, None) as anonymous:
        response = anonymous.request(method, path, json={"amount": 1} if method != "GET" else None)
    body = assert_envelope(response, 401, "unauthorized")
    assert "X-API-Key" in body["detail"]
    assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize(
    "key",
    [
        "abc",
        "Bearer pk_live_whatever",
        "pk_test_0123456789abcdefghijklmnop",
        "pk_live_short",
    ],
)
def test_malformed_key_is_401(live_server: LiveServer, key: str) -> None:
    with http(live_server, key) as client:
        assert_envelope(client.get(ME), 401, "unauthorized")


def test_unknown_key_is_401(live_server: LiveServer) -> None:
    # Same 12-character prefix as the bootstrap key, so the lookup finds a row but no match.
    impostor = live_server.api_key[:12] + "x" * 30
    for key in (impostor, "pk_live_" + "A" * 43):
        with http(live_server, key) as client:
            body = assert_envelope(client.get(ME), 401, "unauthorized")
            assert key not in body["detail"]


def test_bearer_tokens_are_not_accepted(live_server: LiveServer) -> None:
    with http(live_server, None, Authorization=f"Bearer {live_server.api_key}") as client:
        assert_envelope(client.get(ME), 401, "unauthorized")


def test_revoked_key_is_401(live_server: LiveServer, owner: httpx.Client, org_id: str) -> None:
    key = new_key(owner, org_id)
    with http(live_server, key["api_key"]) as client:
        assert client.get(ME).status_code == 200
        assert owner.delete(f"{KEYS}{key['id']}").status_code == 200
        assert_envelope(client.get(ME), 401, "unauthorized")
        assert_envelope(client.post(GRANT, json={"amount": 1}), 401, "unauthorized")


def test_expired_key_is_401(live_server: LiveServer, owner: httpx.Client, org_id: str) -> None:
    expires = datetime.now(timezone.utc) + timedelta(seconds=2)
    key = new_key(owner, org_id, expires_at=expires.isoformat())
    with http(live_server, key["api_key"]) as client:
        assert client.get(ME).status_code == 200
        time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 1.2)
        body = assert_envelope(client.get(ME), 401, "unauthorized")
        assert "expired" in body["detail"]


def test_public_routes_need_no_key(live_server: LiveServer) -> None:
    with http(live_server, None) as anonymous:
        response = anonymous.get("/health")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


# ───────────── rate-limit headers ─────────────


def test_rate_limit_headers_on_every_authenticated_response(
    owner: httpx.Client, org_id: str
) -> None:
    responses = [
        owner.get(ME),  # 200
        owner.post(KEYS, json={"organization_id": org_id, "name": "hdr", "role": "viewer"}),  # 201
        owner.get(f"{KEYS}{uuid.uuid4()}"),  # 404
        owner.post(KEYS, json={}),  # 422
        owner.get("/api/v1/developer/no-such-route"),  # 404 from the router
    ]
    assert [r.status_code for r in responses] == [200, 201, 404, 422, 404]
    remaining = []
    for response in responses:
        for header in RATE_HEADERS:
            assert response.headers[header].isdigit(), (response.request.url, header)
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
        assert int(response.headers["X-RateLimit-Limit"]) == 100_000  # enterprise, the default tier
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[0] > remaining[-1]


def test_forbidden_responses_carry_rate_headers(
    owner: httpx.Client, live_server: LiveServer, org_id: str
) -> None:
    viewer = new_key(owner, org_id, "viewer")
    with http(live_server, viewer["api_key"]) as client:
        response = client.get(KEYS)
    assert_envelope(response, 403, "forbidden")
    assert all(header in response.headers for header in RATE_HEADERS)


@pytest.fixture()
def free_server(live_server: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    """A second install on the free tier (same backend as ``live_server``)."""
    with running_server(live_server.backend, tmp_path, PICTOGRAPH_DEFAULT_TIER="free") as server:
        yield server


def test_over_the_limit_is_429(free_server: LiveServer) -> None:
    with http(free_server, free_server.api_key) as owner:
        me = owner.get(ME)
        assert me.json()["organization"]["subscription_tier"] == "free"
        assert me.headers["X-RateLimit-Limit"] == "1000"
        org = me.json()["organization"]["id"]
        tiny = new_key(owner, org, "viewer", rate_limit=3)
        assert tiny["rate_limit"] == 3
        default = new_key(owner, org, "viewer")
        assert default["rate_limit"] == 1000  # the free tier's hourly cap

        with http(free_server, tiny["api_key"]) as client:
            seen = []
            for _ in range(3):
                response = client.get(BALANCE)
                assert response.status_code == 200
                assert response.headers["X-RateLimit-Limit"] == "3"
                seen.append(int(response.headers["X-RateLimit-Remaining"]))
            assert seen == [2, 1, 0]

            for _ in range(2):
                limited = client.get(BALANCE)
                body = assert_envelope(limited, 429, "rate_limited")
                retry_after = int(limited.headers["Retry-After"])
                assert 1 <= retry_after <= 3600
                assert body["retry_after"] == retry_after
                assert limited.headers["X-RateLimit-Limit"] == "3"
                assert limited.headers["X-RateLimit-Remaining"] == "0"
                assert int(limited.headers["X-RateLimit-Reset"]) > time.time()
            # Writes are refused too, before they run.
            assert client.post(GRANT, json={"amount": 1}).status_code == 429

        # The limit is per key: the owner's own key is unaffected.
        assert owner.get(BALANCE).status_code == 200
        with http(free_server, default["api_key"]) as other:
            assert other.get(BALANCE).status_code == 200

        # Raising the key's limit lets it through again.
        assert owner.patch(f"{KEYS}{tiny['id']}", json={"rate_limit": 100}).status_code == 200
        with http(free_server, tiny["api_key"]) as client:
            response = client.get(BALANCE)
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Limit"] == "100"


# ───────────── idempotency ─────────────


def test_replayed_create_returns_the_same_key_once(owner: httpx.Client, org_id: str) -> None:
    token = uuid.uuid4().hex
    name = f"idem-{token[:8]}"
    body = {"organization_id": org_id, "name": name, "role": "viewer"}
    first = owner.post(KEYS, json=body, headers={"Idempotency-Key": token})
    second = owner.post(KEYS, json=body, headers={"Idempotency-Key": token})
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert second.json()["api_key"] == first.json()["api_key"]
    assert second.headers["content-type"].startswith("application/json")
    assert all(header in second.headers for header in RATE_HEADERS)
    listed = [k for k in owner.get(KEYS).json()["api_keys"] if k["name"] == name]
    assert len(listed) == 1


def test_replayed_grant_is_charged_once(owner: httpx.Client) -> None:
    token = uuid.uuid4().hex
    before = owner.get(BALANCE).json()["credits_remaining"]
    first = owner.post(GRANT, json={"amount": 7}, headers={"Idempotency-Key": token})
    second = owner.post(GRANT, json={"amount": 7}, headers={"Idempotency-Key": token})
    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert owner.get(BALANCE).json()["credits_remaining"] == before + 7


def test_same_key_different_request_is_409(owner: httpx.Client, org_id: str) -> None:
    token = uuid.uuid4().hex
    assert (
        owner.post(GRANT, json={"amount": 1}, headers={"Idempotency-Key": token}).status_code == 200
    )
    before = owner.get(BALANCE).json()["credits_remaining"]
    for response in (
        owner.post(GRANT, json={"amount": 2}, headers={"Idempotency-Key": token}),
        owner.post(
            KEYS, json={"organization_id": org_id, "name": "x"}, headers={"Idempotency-Key": token}
        ),
    ):
        assert_envelope(response, 409, "idempotency_conflict")
        assert "Idempotent-Replayed" not in response.headers
        assert all(header in response.headers for header in RATE_HEADERS)
    assert owner.get(BALANCE).json()["credits_remaining"] == before


def test_replayed_patch(owner: httpx.Client, org_id: str) -> None:
    key = new_key(owner, org_id, "viewer")
    token = uuid.uuid4().hex
    url = f"{KEYS}{key['id']}"
    first = owner.patch(url, json={"name": "first"}, headers={"Idempotency-Key": token})
    owner.patch(url, json={"name": "changed since"})
    second = owner.patch(url, json={"name": "first"}, headers={"Idempotency-Key": token})
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert owner.get(url).json()["api_key"]["name"] == "changed since"


def test_distinct_keys_execute_separately(owner: httpx.Client) -> None:
    before = owner.get(BALANCE).json()["credits_remaining"]
    for _ in range(2):
        response = owner.post(
            GRANT, json={"amount": 1}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert "Idempotent-Replayed" not in response.headers
    # ... and so do requests without a key.
    owner.post(GRANT, json={"amount": 1})
    owner.post(GRANT, json={"amount": 1})
    assert owner.get(BALANCE).json()["credits_remaining"] == before + 4


def test_reads_ignore_idempotency_keys(owner: httpx.Client) -> None:
    token = uuid.uuid4().hex
    first = owner.get(BALANCE, headers={"Idempotency-Key": token})
    owner.post(GRANT, json={"amount": 1})
    second = owner.get(BALANCE, headers={"Idempotency-Key": token})
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["credits_remaining"] == first.json()["credits_remaining"] + 1


def test_overlong_idempotency_key_is_422(owner: httpx.Client) -> None:
    before = owner.get(BALANCE).json()["credits_remaining"]
    response = owner.post(GRANT, json={"amount": 1}, headers={"Idempotency-Key": "k" * 256})
    body = assert_envelope(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert all(header in response.headers for header in RATE_HEADERS)
    assert owner.get(BALANCE).json()["credits_remaining"] == before
    longest = owner.post(GRANT, json={"amount": 1}, headers={"Idempotency-Key": "k" * 255})
    assert longest.status_code == 200


# ───────────── the error envelope ─────────────


def test_error_envelopes(owner: httpx.Client, org_id: str) -> None:
    assert_envelope(owner.get(f"{KEYS}{uuid.uuid4()}"), 404, "not_found")
    assert_envelope(owner.get("/api/v1/developer/nothing-here"), 404, "not_found")
    assert_envelope(owner.put(ME, json={}), 405, "method_not_allowed")
    body = assert_envelope(
        owner.post(KEYS, json={"organization_id": org_id, "role": "x"}), 422, "validation_error"
    )
    assert body["errors"] and {"loc", "msg", "type"} <= set(body["errors"][0])
    assert body["errors"][0]["loc"] == ["name"]
    malformed = owner.post(KEYS, content=b"{not json", headers={"content-type": "application/json"})
    assert_envelope(malformed, 422, "validation_error")


# ───────────── Redis-backed windows ─────────────


def _redis_or_skip() -> str:
    import os

    url = os.environ.get("PICTOGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Redis at {url}")
        pytest.skip("no Redis reachable")
    return url


def test_two_replicas_share_one_redis_window(tmp_path) -> None:
    """Two API servers on one database and one Redis count against the same hourly window."""
    redis_url = _redis_or_skip()
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = start_server(first_dir, db_url, "sqlite", PICTOGRAPH_REDIS_URL=redis_url)
    try:
        with http(first, first.api_key) as owner:
            org = owner.get(ME).json()["organization"]["id"]
            tiny = new_key(owner, org, "viewer", rate_limit=4)
        second = start_server(second_dir, db_url, "sqlite", PICTOGRAPH_REDIS_URL=redis_url)
        try:
            statuses = []
            for server in (first, second, first, second, first):
                with http(server, tiny["api_key"]) as client:
                    statuses.append(client.get(BALANCE).status_code)
            assert statuses == [200, 200, 200, 200, 429]
        finally:
            second.stop()
    finally:
        first.stop()
