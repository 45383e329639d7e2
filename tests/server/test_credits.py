"""Credits over HTTP: balance, ledger history, estimates, administrator grants."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import LiveServer, running_server
from tests.server.helpers import ME, ROLES, http, parse_time

BASE = "/api/v1/developer/credits"
ENTRY_FIELDS = {
    "id",
    "operation",
    "amount",
    "balance_after",
    "description",
    "metadata",
    "created_at",
}
ESTIMATE_FIELDS = {
    "operation",
    "credits_per_unit",
    "unit",
    "quantity",
    "total_credits",
    "minimum",
    "sufficient",
    "credits_remaining",
}


def grant(client: httpx.Client, amount: Any, description: str | None = None) -> httpx.Response:
    body = {"amount": amount}
    if description is not None:
        body["description"] = description
    return client.post(f"{BASE}/grant", json=body)


# ───────────── balance ─────────────


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_balance(clients: dict[str, httpx.Client], role: str) -> None:
    response = clients[role].get(f"{BASE}/balance")
    assert response.status_code == 200
    body = response.json()
    assert {
        "credits_remaining",
        "credits_monthly_allowance",
        "credits_reset_at",
        "recent_history",
    } <= set(body)
    assert body["credits_monthly_allowance"] == 10_000
    reset = parse_time(body["credits_reset_at"])
    assert reset > datetime.now(timezone.utc)
    assert (reset.day, reset.hour, reset.minute) == (1, 0, 0)


def test_balance_history_is_the_newest_twenty(owner: httpx.Client) -> None:
    for n in range(21):
        assert grant(owner, 1, f"batch {n}").status_code == 200
    body = owner.get(f"{BASE}/balance").json()
    history = body["recent_history"]
    assert len(history) == 20
    assert history[0]["description"] == "batch 20"
    assert history[0]["balance_after"] == body["credits_remaining"]
    for entry in history:
        assert ENTRY_FIELDS <= set(entry)
        parse_time(entry["created_at"])
    assert owner.get(f"{BASE}/history", params={"limit": 20}).json()["entries"] == history


def test_the_first_allowance_is_in_the_ledger(owner: httpx.Client) -> None:
    body = owner.get(f"{BASE}/history", params={"limit": 1000}).json()
    oldest = body["entries"][-1]
    assert oldest["operation"] == "monthly_allowance"
    assert oldest["amount"] == oldest["balance_after"] == 10_000


# ───────────── history ─────────────


def test_history_pages_newest_first(owner: httpx.Client) -> None:
    for n in range(3):
        grant(owner, 10 + n, f"paging {n}")
    first = owner.get(f"{BASE}/history", params={"limit": 2}).json()
    assert {"entries", "total", "limit", "offset"} <= set(first)
    assert (first["limit"], first["offset"]) == (2, 0)
    assert [e["description"] for e in first["entries"]] == ["paging 2", "paging 1"]
    second = owner.get(f"{BASE}/history", params={"limit": 2, "offset": 1}).json()
    assert second["entries"][0] == first["entries"][1]
    assert second["total"] == first["total"] >= 4
    everything = owner.get(f"{BASE}/history", params={"limit": 1000}).json()["entries"]
    assert len(everything) == first["total"]
    # Each entry's balance follows from the one before it.
    for newer, older in itertools.pairwise(everything):
        assert newer["balance_after"] == older["balance_after"] + newer["amount"]


def test_history_defaults(owner: httpx.Client) -> None:
    body = owner.get(f"{BASE}/history").json()
    assert (body["limit"], body["offset"]) == (50, 0)


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 100_000}, {"offset": -1}, {"limit": "many"}]
)
def test_history_rejects_bad_paging(owner: httpx.Client, params: dict[str, Any]) -> None:
    response = owner.get(f"{BASE}/history", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == list(params)


# ───────────── estimate ─────────────


@pytest.mark.parametrize(
    ("operation", "quantity", "per_unit", "total"),
    [
        ("training_a10g_per_minute", 30, 10, 300),
        ("training_a100", 2, 60, 120),
        ("training_h100_per_minute", 1, 120, 120),
        ("image_generate_imagen_fast", 4, 5, 20),
        ("image_edit_gemini_flash", 2, 3, 6),
        ("image_inference", 7, 1, 7),
        ("sam3_per_minute", 1, 1, 3),  # the 3-credit session minimum
        ("sam3_auto_annotation", 10, 1, 10),
    ],
)
def test_estimate(
    owner: httpx.Client, operation: str, quantity: int, per_unit: int, total: int
) -> None:
    response = owner.get(f"{BASE}/estimate", params={"operation": operation, "quantity": quantity})
    assert response.status_code == 200, response.text
    body = response.json()
    assert ESTIMATE_FIELDS <= set(body)
    assert (body["operation"], body["quantity"]) == (operation, quantity)
    assert (body["credits_per_unit"], body["total_credits"]) == (per_unit, total)
    assert body["sufficient"] is (body["credits_remaining"] >= total)
    assert body["credits_remaining"] == owner.get(f"{BASE}/balance").json()["credits_remaining"]


def test_estimate_quantity_defaults_to_one(clients: dict[str, httpx.Client]) -> None:
    body = clients["viewer"].get(f"{BASE}/estimate", params={"operation": "image_inference"}).json()
    assert (body["quantity"], body["total_credits"]) == (1, 1)


def test_estimate_insufficient(owner: httpx.Client) -> None:
    body = owner.get(
        f"{BASE}/estimate", params={"operation": "training_h100", "quantity": 10_000_000}
    ).json()
    assert body["sufficient"] is False
    assert body["total_credits"] == 1_200_000_000


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"operation": "teleport"}, ["operation"]),
        ({}, ["operation"]),
        ({"operation": "image_inference", "quantity": 0}, ["quantity"]),
        ({"operation": "image_inference", "quantity": "two"}, ["quantity"]),
    ],
)
def test_estimate_rejects(owner: httpx.Client, params: dict[str, Any], loc: list[Any]) -> None:
    response = owner.get(f"{BASE}/estimate", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert body["errors"][0]["loc"] == loc
    assert body["detail"]


# ───────────── grant ─────────────


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_grant(clients: dict[str, httpx.Client], role: str) -> None:
    client = clients[role]
    before = client.get(f"{BASE}/balance").json()["credits_remaining"]
    response = grant(client, 250, f"top-up by {role}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credits_remaining"] == before + 250
    assert body["recent_history"][0]["operation"] == "admin_grant"
    assert body["recent_history"][0]["amount"] == 250
    assert body["recent_history"][0]["description"] == f"top-up by {role}"
    assert body["entry"]["balance_after"] == before + 250
    newest = client.get(f"{BASE}/history", params={"limit": 1}).json()["entries"][0]
    assert newest["id"] == body["entry"]["id"]
    assert client.get(ME).json()["organization"]["credits_remaining"] == before + 250


def test_grant_without_description(owner: httpx.Client) -> None:
    response = grant(owner, 3)
    assert response.status_code == 200
    assert response.json()["entry"]["description"]


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_grant_needs_admin(
    clients: dict[str, httpx.Client], owner: httpx.Client, role: str
) -> None:
    before = owner.get(f"{BASE}/balance").json()["credits_remaining"]
    response = grant(clients[role], 100)
    assert response.status_code == 403
    assert response.json()["error_code"] == "forbidden"
    assert owner.get(f"{BASE}/balance").json()["credits_remaining"] == before


@pytest.mark.parametrize("amount", [0, -5, 1.5, "ten", None, 10**12])
def test_grant_rejects_bad_amounts(owner: httpx.Client, amount: Any) -> None:
    before = owner.get(f"{BASE}/balance").json()["credits_remaining"]
    response = grant(owner, amount)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["amount"]
    assert owner.get(f"{BASE}/balance").json()["credits_remaining"] == before


def test_credit_routes_need_a_key(live_server: LiveServer) -> None:
    with http(live_server, None) as anonymous:
        for response in (
            anonymous.get(f"{BASE}/balance"),
            anonymous.get(f"{BASE}/history"),
            anonymous.get(f"{BASE}/estimate", params={"operation": "image_inference"}),
            anonymous.post(f"{BASE}/grant", json={"amount": 1}),
        ):
            assert response.status_code == 401
            assert response.json()["error_code"] == "unauthorized"


# ───────────── the configured allowance ─────────────


@pytest.fixture()
def small_allowance_server(live_server: LiveServer, tmp_path: Path) -> Iterator[LiveServer]:
    with running_server(
        live_server.backend, tmp_path, PICTOGRAPH_DEFAULT_CREDIT_ALLOWANCE="500"
    ) as server:
        yield server


def test_allowance_comes_from_the_setting(small_allowance_server: LiveServer) -> None:
    with http(small_allowance_server, small_allowance_server.api_key) as owner:
        body = owner.get(f"{BASE}/balance").json()
        assert body["credits_monthly_allowance"] == body["credits_remaining"] == 500
        estimate = owner.get(
            f"{BASE}/estimate", params={"operation": "training_a100", "quantity": 9}
        ).json()
        assert (estimate["total_credits"], estimate["sufficient"]) == (540, False)
        assert grant(owner, 40).json()["credits_remaining"] == 540
        estimate = owner.get(
            f"{BASE}/estimate", params={"operation": "training_a100", "quantity": 9}
        ).json()
        assert estimate["sufficient"] is True
        org = owner.get(ME).json()["organization"]
        assert (org["credits_remaining"], org["credits_monthly_allowance"]) == (540, 500)
        assert uuid.UUID(org["id"])
