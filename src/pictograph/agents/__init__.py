"""Pictograph for agents: the 28-tool registry, the guarded Toolkit, and per-framework adapters.

    from pictograph.agents import create_toolkit, for_anthropic_messages

    toolkit = create_toolkit()                    # reads PICTOGRAPH_API_KEY
    tools = for_anthropic_messages(toolkit)       # → anthropic messages.create(tools=...)
    result = toolkit.dispatch("list_datasets", {"limit": 10})
"""

from pictograph.agents.adapters import (
    claude_agent_sdk_server,
    for_anthropic_messages,
    for_claude_agent_sdk,
    for_openai_agents,
    for_openai_responses,
)
from pictograph.agents.registry import REGISTRY, Role, ToolSpec, get_tool
from pictograph.agents.toolkit import Toolkit, create_toolkit

__all__ = [
    "REGISTRY",
    "Role",
    "ToolSpec",
    "Toolkit",
    "claude_agent_sdk_server",
    "create_toolkit",
    "for_anthropic_messages",
    "for_claude_agent_sdk",
    "for_openai_agents",
    "for_openai_responses",
    "get_tool",
]
