"""The tool registry over the Model Context Protocol, for MCP clients (Claude Desktop, Claude
Code, Cursor, …): ``pictograph agents mcp`` runs it over stdio or streamable HTTP.

It is the low-level ``mcp`` ``Server`` rather than ``FastMCP`` because the tools already have
their JSON Schemas and a dispatcher: the registry's schemas are listed as they are, and every
call goes through :meth:`Toolkit.dispatch_text`, so MCP clients get the same validation, role
and credit gates, response cap and ``{"error": ...}`` results as every other integration.
Needs the ``mcp`` package (``pip install 'pictograph[agents]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import anyio

from pictograph._version import __version__
from pictograph.agents.adapters import _framework
from pictograph.agents.registry import REGISTRY, ToolSpec

if TYPE_CHECKING:
    from pictograph.agents.toolkit import Toolkit

Transport = Literal["stdio", "http"]

INSTRUCTIONS = (
    "Pictograph computer-vision tools: datasets, images, annotations, SAM3 auto-annotation, "
    "exports, training, models, credits. Before a paid tool (credit_cost > 0) call "
    "estimate_credit_cost and tell the user the cost. Before a destructive tool list the "
    "targets and wait for the user to confirm them by name."
)


def read_only(spec: ToolSpec[Any]) -> bool:
    """Viewer tools change nothing on the server; the download tools still write a local file,
    so a tool with an ``output_path`` argument is not read-only for the client's purposes."""
    return spec.required_role == "viewer" and "output_path" not in spec.input_model.model_fields


def mcp_tools() -> list[Any]:
    """Every registry tool as an ``mcp_types.Tool``, with its behaviour hints."""
    types = _framework("mcp_types", "mcp", "mcp_tools")
    return [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema,
            annotations=types.ToolAnnotations(
                read_only_hint=read_only(spec),
                destructive_hint=spec.destructive,
                idempotent_hint=spec.idempotent,
                open_world_hint=spec.category == "Connectors",
            ),
        )
        for spec in REGISTRY
    ]


def build_server(toolkit: Toolkit) -> Any:
    """A low-level ``mcp`` Server listing the registry and dispatching calls through ``toolkit``."""
    _framework("mcp", "mcp", "build_server")
    import mcp_types as types
    from mcp.server.lowlevel import Server

    tools = types.ListToolsResult(tools=mcp_tools())

    async def list_tools(ctx: Any, params: Any) -> Any:
        return tools

    async def call_tool(ctx: Any, params: Any) -> Any:
        # The SDK is synchronous: a worker thread keeps the event loop serving other requests.
        text, is_error = await anyio.to_thread.run_sync(
            toolkit.dispatch_text, params.name, params.arguments or {}
        )
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)

    return Server(
        "pictograph",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve(
    toolkit: Toolkit,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP, at
    ``http://HOST:PORT/mcp``)."""
    server = build_server(toolkit)
    if transport == "http":
        import uvicorn

        app = server.streamable_http_app(host=host)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    from mcp.server.stdio import stdio_server

    async def run_stdio() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run_stdio)
