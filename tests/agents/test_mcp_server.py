"""``pictograph agents mcp``: a real MCP client (the ``mcp`` package) launches the command, lists
the 28 tools with their schemas and hints, and calls tools against the live server — over stdio,
and over streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client as McpClient
from mcp.client.stdio import StdioServerParameters

from pictograph import Client
from pictograph.agents.mcp_server import read_only
from pictograph.agents.registry import REGISTRY, get_tool
from tests.live_server import LiveServer
from tests.server.helpers import add_key

COMMAND = [sys.executable, "-m", "pictograph.cli.app", "agents", "mcp"]


def server_env(
    live_server: LiveServer, tmp_path: Path, api_key: str | None = None
) -> dict[str, str]:
    return {
        "PICTOGRAPH_API_KEY": api_key or live_server.api_key,
        "PICTOGRAPH_BASE_URL": live_server.base_url,
        "PICTOGRAPH_CONFIG_FILE": str(tmp_path / "none.toml"),
    }


async def exercise(target: Any) -> dict[str, Any]:
    """List the tools, call list_datasets, and make one refused call, as an MCP host would."""
    async with McpClient(target, read_timeout_seconds=60) as mcp:
        listed = await mcp.list_tools()
        datasets = await mcp.call_tool("list_datasets", {"limit": 1000})
        refused = await mcp.call_tool("get_dataset", {"name": "x", "bogus": 1})
        unknown = await mcp.call_tool("no_such_tool", {})
    return {"tools": listed.tools, "datasets": datasets, "refused": refused, "unknown": unknown}


def check(outcome: dict[str, Any], dataset_name: str) -> None:
    tools = {tool.name: tool for tool in outcome["tools"]}
    assert list(tools) == [spec.name for spec in REGISTRY]
    for spec in REGISTRY:
        tool = tools[spec.name]
        assert tool.input_schema == spec.input_schema and tool.description == spec.description
        assert tool.annotations.destructive_hint is spec.destructive
        assert tool.annotations.idempotent_hint is spec.idempotent
        assert tool.annotations.read_only_hint is read_only(spec)
    assert tools["list_datasets"].annotations.read_only_hint is True
    assert tools["download_model"].annotations.read_only_hint is False
    assert tools["delete_dataset"].annotations.destructive_hint is True

    datasets = outcome["datasets"]
    assert datasets.is_error is False
    names = [d["name"] for d in json.loads(datasets.content[0].text)["datasets"]]
    assert dataset_name in names

    for key in ("refused", "unknown"):
        result = outcome[key]
        assert result.is_error is True
        error = json.loads(result.content[0].text)["error"]
        assert error["type"] == "ValidationError" and error["errors"]


@pytest.fixture()
def dataset_name(live_server: LiveServer) -> str:
    name = f"mcp-{uuid.uuid4().hex[:8]}"
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as sdk:
        sdk.projects.create(name)
    return name


def test_over_stdio(live_server: LiveServer, tmp_path: Path, dataset_name: str) -> None:
    params = StdioServerParameters(
        command=COMMAND[0], args=COMMAND[1:], env=server_env(live_server, tmp_path)
    )
    check(asyncio.run(exercise(params)), dataset_name)


def test_the_role_gate_applies_over_mcp(live_server: LiveServer, tmp_path: Path) -> None:
    viewer = add_key(live_server, "viewer")
    params = StdioServerParameters(
        command=COMMAND[0], args=COMMAND[1:], env=server_env(live_server, tmp_path, viewer)
    )

    async def create() -> Any:
        async with McpClient(params, read_timeout_seconds=60) as mcp:
            return await mcp.call_tool("create_dataset", {"name": f"never-{uuid.uuid4().hex}"})

    result = asyncio.run(create())
    error = json.loads(result.content[0].text)["error"]
    assert result.is_error and error["error_code"] == "insufficient_role"
    assert "status_code" not in error  # refused before any request: the role was discovered
    assert get_tool("create_dataset").required_role == "member"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def http_server(live_server: LiveServer, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **server_env(live_server, tmp_path)}
    process = subprocess.Popen(
        [*COMMAND, "--transport", "http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the MCP HTTP server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_over_streamable_http(http_server: str, dataset_name: str) -> None:
    check(asyncio.run(exercise(http_server)), dataset_name)


def test_a_missing_key_fails_before_serving(live_server: LiveServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICTOGRAPH_")}
    env["PICTOGRAPH_CONFIG_FILE"] = str(tmp_path / "none.toml")
    done = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "No API key" in done.stderr
