"""The registry in each agent framework's own shape; every call still goes through ``dispatch``.

``for_anthropic_messages`` / ``for_openai_responses`` are plain dicts for the vendors' raw
tool-use loops (no extra dependency). ``for_claude_agent_sdk`` / ``for_openai_agents`` build the
frameworks' tool objects, whose handlers dispatch through the toolkit and hand refusals back to
the model as error results; those frameworks come with ``pip install 'pictograph[agents]'`` and
are imported only when asked for.
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pictograph.agents.registry import REGISTRY, ToolSpec

if TYPE_CHECKING:
    from pictograph.agents.toolkit import Toolkit

EXTRA_HINT = "pip install 'pictograph[agents]'"


def for_anthropic_messages(toolkit: Toolkit) -> list[dict[str, Any]]:
    """Tool dicts for ``anthropic.Anthropic().messages.create(tools=...)``."""
    return toolkit.as_anthropic_tools()


def for_openai_responses(toolkit: Toolkit) -> list[dict[str, Any]]:
    """Function-tool dicts for ``openai.OpenAI().responses.create(tools=...)``."""
    return toolkit.as_openai_tools()


def for_claude_agent_sdk(toolkit: Toolkit) -> list[Any]:
    """Every tool as a ``claude_agent_sdk`` ``SdkMcpTool`` (what its ``@tool`` decorator makes).

    Serve them with :func:`claude_agent_sdk_server`, or pass them to
    ``claude_agent_sdk.create_sdk_mcp_server`` yourself.
    """
    sdk = _framework("claude_agent_sdk", "claude-agent-sdk", "for_claude_agent_sdk")
    return [_claude_tool(sdk, toolkit, spec) for spec in REGISTRY]


def claude_agent_sdk_server(toolkit: Toolkit, *, name: str = "pictograph") -> Any:
    """An in-process MCP server config holding every tool, for
    ``ClaudeAgentOptions(mcp_servers={name: server})``; the agent then sees each tool as
    ``mcp__<name>__<tool>``."""
    sdk = _framework("claude_agent_sdk", "claude-agent-sdk", "claude_agent_sdk_server")
    return sdk.create_sdk_mcp_server(name, tools=for_claude_agent_sdk(toolkit))


def for_openai_agents(toolkit: Toolkit) -> list[Any]:
    """Every tool as an ``openai-agents`` ``FunctionTool``, for ``Agent(tools=...)``."""
    sdk = _framework("agents", "openai-agents", "for_openai_agents")
    return [_openai_agents_tool(sdk, toolkit, spec) for spec in REGISTRY]


def _claude_tool(sdk: ModuleType, toolkit: Toolkit, spec: ToolSpec[Any]) -> Any:
    async def handler(args: dict[str, Any]) -> dict[str, Any]:
        text, is_error = await asyncio.to_thread(toolkit.dispatch_text, spec.name, args)
        return {"content": [{"type": "text", "text": text}], "is_error": is_error}

    annotations = sdk.ToolAnnotations(
        idempotentHint=spec.idempotent, destructiveHint=spec.destructive
    )
    return sdk.tool(spec.name, spec.description, spec.input_schema, annotations)(handler)


def _openai_agents_tool(sdk: ModuleType, toolkit: Toolkit, spec: ToolSpec[Any]) -> Any:
    async def on_invoke_tool(context: Any, arguments: str) -> str:
        text, _ = await asyncio.to_thread(toolkit.dispatch_text, spec.name, arguments)
        return text

    return sdk.FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.input_schema,
        on_invoke_tool=on_invoke_tool,
        strict_json_schema=False,
    )


def _framework(module: str, package: str, caller: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{caller}() needs the {package} package: {EXTRA_HINT}"
        ) from error
