"""The adapters in each framework's own terms: the tool dicts pass the ``anthropic`` and ``openai``
SDKs' request types and go out in a real request (to a mock transport), the model's tool call
that comes back is dispatched against the live server; the ``claude_agent_sdk`` tools answer
through a real in-process MCP session, and the ``openai-agents`` FunctionTools through their own
``on_invoke_tool``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from pydantic import TypeAdapter

from pictograph import Client
from pictograph.agents import (
    REGISTRY,
    claude_agent_sdk_server,
    create_toolkit,
    for_anthropic_messages,
    for_claude_agent_sdk,
    for_openai_agents,
    for_openai_responses,
)

NAMES = [spec.name for spec in REGISTRY]


def recording_http(reply: dict[str, Any], sent: list[dict[str, Any]]) -> httpx2.Client:
    """An HTTP client (httpx2, which both vendor SDKs use) that records every request body in
    ``sent`` and answers it with ``reply``: the request is built for real, nothing leaves."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=reply)

    return httpx2.Client(transport=httpx2.MockTransport(handle))


# ───────────── raw tool dicts ─────────────


def test_anthropic_messages_loop(client: Client) -> None:
    import anthropic
    from anthropic.types import ToolParam

    toolkit = create_toolkit(client)
    tools = for_anthropic_messages(toolkit)
    TypeAdapter(list[ToolParam]).validate_python(tools)
    assert [t["name"] for t in tools] == NAMES
    assert all(set(t) == {"name", "description", "input_schema"} for t in tools)

    sent: list[dict[str, Any]] = []
    reply = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "list_datasets", "input": {"limit": 5}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    http = recording_http(reply, sent)
    vendor = anthropic.Anthropic(api_key="test", base_url="http://anthropic.test", http_client=http)
    response = vendor.messages.create(
        model="claude-opus-4",
        max_tokens=1024,
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "auto"},
        messages=[{"role": "user", "content": "List my datasets"}],
    )
    assert sent[0]["tools"] == tools
    (call,) = [block for block in response.content if block.type == "tool_use"]
    result = toolkit.dispatch(call.name, call.input)
    assert result["datasets"] == [
        d.model_dump(mode="json", exclude_none=True) for d in client.datasets.list(limit=5)
    ]


def test_openai_responses_loop(client: Client) -> None:
    import openai
    from openai.types.responses import FunctionToolParam

    toolkit = create_toolkit(client)
    tools = for_openai_responses(toolkit)
    TypeAdapter(list[FunctionToolParam]).validate_python(tools)
    assert [t["name"] for t in tools] == NAMES
    assert all(t["type"] == "function" and t["strict"] is False for t in tools)

    sent: list[dict[str, Any]] = []
    reply = {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "gpt-5",
        "status": "completed",
        "output": [
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_credit_balance",
                "arguments": "{}",
                "status": "completed",
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
    http = recording_http(reply, sent)
    vendor = openai.OpenAI(api_key="test", base_url="http://openai.test/v1", http_client=http)
    response = vendor.responses.create(
        model="gpt-5",
        input=[{"role": "user", "content": "Show my credit balance"}],
        tools=tools,  # type: ignore[arg-type]
    )
    assert sent[0]["tools"] == tools
    (call,) = [item for item in response.output if item.type == "function_call"]
    result = toolkit.dispatch(call.name, json.loads(call.arguments))
    assert result["credits_remaining"] == client.credits.balance().credits_remaining


# ───────────── claude-agent-sdk ─────────────


def test_claude_agent_sdk_tools_answer_through_mcp(client: Client) -> None:
    from claude_agent_sdk import ClaudeAgentOptions, SdkMcpTool
    from mcp import Client as McpClient

    toolkit = create_toolkit(client)
    tools = for_claude_agent_sdk(toolkit)
    assert all(isinstance(t, SdkMcpTool) for t in tools) and [t.name for t in tools] == NAMES
    by_name = {t.name: t for t in tools}
    hints = {name: t.annotations.model_dump(by_alias=True) for name, t in by_name.items()}
    assert hints["delete_dataset"]["destructiveHint"] is True
    assert (hints["list_models"]["idempotentHint"], hints["list_models"]["destructiveHint"]) == (
        True,
        False,
    )
    assert by_name["list_models"].input_schema == REGISTRY[NAMES.index("list_models")].input_schema

    direct = asyncio.run(by_name["list_datasets"].handler({"limit": 5}))
    assert direct["is_error"] is False
    listed_directly = json.loads(direct["content"][0]["text"])
    assert listed_directly == toolkit.dispatch("list_datasets", {"limit": 5})

    server = claude_agent_sdk_server(toolkit)
    ClaudeAgentOptions(
        mcp_servers={"pictograph": server},
        allowed_tools=[f"mcp__pictograph__{name}" for name in NAMES],
    )

    async def session() -> tuple[list[str], Any, Any, Any]:
        async with McpClient(server["instance"]) as mcp:
            listed = await mcp.list_tools()
            balance = await mcp.call_tool("get_credit_balance", {})
            missing = await mcp.call_tool("get_dataset", {"name": "no-such-dataset"})
            invalid = await mcp.call_tool("list_datasets", {"limit": 0})
            return [t.name for t in listed.tools], balance, missing, invalid

    listed, balance, missing, invalid = asyncio.run(session())
    assert listed == NAMES
    assert not balance.is_error
    text = json.loads(balance.content[0].text)
    assert text["credits_remaining"] == client.credits.balance().credits_remaining
    assert missing.is_error
    assert json.loads(missing.content[0].text)["error"]["type"] == "NotFoundError"
    assert invalid.is_error


# ───────────── openai-agents ─────────────


def test_openai_agents_function_tools_invoke_the_toolkit(client: Client) -> None:
    from agents import Agent, FunctionTool
    from agents.tool_context import ToolContext

    toolkit = create_toolkit(client)
    tools = for_openai_agents(toolkit)
    assert all(isinstance(t, FunctionTool) for t in tools) and [t.name for t in tools] == NAMES
    by_name = {t.name: t for t in tools}
    spec = REGISTRY[NAMES.index("get_dataset")]
    assert by_name["get_dataset"].params_json_schema == spec.input_schema
    assert by_name["get_dataset"].strict_json_schema is False
    Agent(name="Pictograph driver", instructions="Drive Pictograph.", tools=tools)

    def invoke(name: str, arguments: str) -> Any:
        context = ToolContext(
            context=None, tool_name=name, tool_call_id="call_1", tool_arguments=arguments
        )
        return json.loads(asyncio.run(by_name[name].on_invoke_tool(context, arguments)))

    assert invoke("list_datasets", '{"limit": 5}') == toolkit.dispatch(
        "list_datasets", {"limit": 5}
    )
    assert invoke("get_dataset", '{"name": "no-such-dataset"}')["error"]["status_code"] == 404
    assert invoke("get_dataset", "{not json")["error"]["type"] == "ValidationError"
    refused = invoke("get_dataset", '{"name": "x", "colour": "red"}')["error"]
    assert refused["errors"][0]["loc"] == ["colour"]


# ───────────── missing frameworks ─────────────


@pytest.mark.parametrize(
    ("module", "build"),
    [
        ("claude_agent_sdk", for_claude_agent_sdk),
        ("claude_agent_sdk", claude_agent_sdk_server),
        ("agents", for_openai_agents),
    ],
)
def test_a_missing_framework_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, build: Callable[[Any], Any]
) -> None:
    from unittest.mock import MagicMock

    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'pictograph\[agents\]'"):
        build(create_toolkit(MagicMock()))
