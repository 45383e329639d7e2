"""Discovery: the tools endpoints serve the registry (and the server's snapshot has not drifted
from it), and a key can read its own role, which the toolkit's early role gate then uses."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from pictograph import Client
from pictograph.agents import create_toolkit
from pictograph.agents.registry import tools_payload
from pictograph.exceptions import AuthError, ForbiddenError
from pictograph.server.routes.tools import snapshot
from tests.live_server import LiveServer
from tests.server.helpers import add_key

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "generate_tools_snapshot.py"
TOOLS_URLS = ("/api/v1/developer/tools", "/api/v1/developer/tools/", "/api/v1/developer/tools.json")


def content(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != "generated_at"}


def test_the_snapshot_matches_the_registry() -> None:
    assert content(snapshot()) == content(tools_payload())
    assert snapshot()["count"] == 28 and snapshot()["generated_at"].endswith("Z")


def test_the_check_script_passes_and_catches_drift(tmp_path: Path) -> None:
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr

    stale = tmp_path / "snapshot.json"
    written = subprocess.run([sys.executable, str(SCRIPT), "--path", str(stale)], check=False)
    assert written.returncode == 0
    stale.write_text(stale.read_text().replace('"credit_cost": 0', '"credit_cost": 1', 1))
    drifted = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--path", str(stale)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert drifted.returncode == 1 and "out of date" in drifted.stderr


@pytest.mark.parametrize("role", ["viewer", "owner"])
def test_every_tools_url_serves_the_registry(live_server: LiveServer, role: str) -> None:
    key = add_key(live_server, role)
    expected = content(create_toolkit(api_key=key, base_url=live_server.base_url).as_json_schema())
    for path in TOOLS_URLS:
        response = httpx.get(live_server.base_url + path, headers={"X-API-Key": key})
        assert response.status_code == 200, (path, response.text)
        assert content(response.json()) == expected, path
        assert "X-RateLimit-Limit" in response.headers  # the gate counted it like any API call


def test_the_tools_endpoint_needs_a_key(live_server: LiveServer) -> None:
    for path in TOOLS_URLS:
        assert httpx.get(live_server.base_url + path).status_code == 401
        bad = httpx.get(live_server.base_url + path, headers={"X-API-Key": "pk_live_nope"})
        assert bad.status_code == 401


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner"])
def test_a_key_reads_its_own_metadata(live_server: LiveServer, role: str) -> None:
    key = add_key(live_server, role)
    with Client(api_key=key, base_url=live_server.base_url) as sdk:
        me = sdk.api_keys.me()
    assert me.role == role and key.startswith(me.key_prefix)
    assert me.id and me.name and me.organization_id


def test_me_without_a_key_is_refused(live_server: LiveServer) -> None:
    response = httpx.get(live_server.base_url + "/api/v1/api-keys/me")
    assert response.status_code == 401
    with Client(api_key="pk_live_" + "x" * 32, base_url=live_server.base_url) as sdk:
        with pytest.raises(AuthError):
            sdk.api_keys.me()


def test_the_toolkit_discovers_a_viewer_role_once(live_server: LiveServer) -> None:
    key = add_key(live_server, "viewer")
    requests: list[str] = []
    with Client(api_key=key, base_url=live_server.base_url) as viewer:
        original = viewer.api_keys.me

        def counted() -> Any:
            requests.append("me")
            return original()

        viewer.api_keys.me = counted  # type: ignore[method-assign]
        toolkit = create_toolkit(viewer)
        assert toolkit.role is None
        toolkit.dispatch("list_datasets", {})  # a viewer tool: no need to ask
        assert requests == []
        name = f"never-{uuid.uuid4().hex[:8]}"
        for _ in range(2):
            with pytest.raises(ForbiddenError) as refused:
                toolkit.dispatch("create_dataset", {"name": name})
            assert refused.value.status_code is None  # refused here, before any request
            assert refused.value.error_code == "insufficient_role"
        assert requests == ["me"] and toolkit.role == "viewer"
        assert name not in [d.name for d in viewer.datasets.list(limit=1000)]


def test_a_member_key_is_let_through_after_discovery(live_server: LiveServer) -> None:
    key = add_key(live_server, "member")
    with Client(api_key=key, base_url=live_server.base_url) as member:
        toolkit = create_toolkit(member)
        name = f"agent-{uuid.uuid4().hex[:8]}"
        assert toolkit.dispatch("create_dataset", {"name": name})["name"] == name
        assert toolkit.role == "member"
        with pytest.raises(ForbiddenError) as refused:
            toolkit.dispatch("delete_dataset", {"name": name})  # admin and up
        assert refused.value.status_code is None
