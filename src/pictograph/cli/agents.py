"""``pictograph agents list-tools | export-tools | install-skill | mcp``: the agent toolkit from
the shell.

The listing and the export read the registry alone, so they work offline and without a key;
``mcp`` is the one command that talks to the server, on each tool call.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from pictograph.agents.registry import REGISTRY, tools_payload
from pictograph.cli import _output
from pictograph.cli._context import (
    ApiKeyOption,
    BaseUrlOption,
    JsonOption,
    build_client,
    global_options,
)

SKILL_NAME = "pictograph-cv"
SKILL_DIR = Path(__file__).resolve().parents[1] / "agents" / "skill" / SKILL_NAME
"""The bundled Claude Skill (package data)."""

app = typer.Typer(
    no_args_is_help=True, help="Agent tools: list and export them, install the skill, serve MCP."
)


class McpTransport(str, Enum):
    stdio = "stdio"
    http = "http"


class SkillTarget(str, Enum):
    claude_code = "claude-code"
    claude_ai = "claude-ai"
    both = "both"


@app.command("list-tools")
def list_tools(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the agent tools: name, category, minimum key role, approximate credit cost."""
    rows = [
        {
            "name": spec.name,
            "category": spec.category,
            "role": spec.required_role,
            "cost": spec.credit_cost,
            "idempotent": spec.idempotent,
            "destructive": spec.destructive,
        }
        for spec in REGISTRY
    ]
    if json_output or global_options(ctx).json:
        _output.print_json(rows)
        return
    _output.print_table(
        rows,
        ["name", "category", "role", "cost", "destructive"],
        title=f"Agent tools ({len(rows)})",
    )


@app.command("export-tools")
def export_tools(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write; stdout when omitted.", dir_okay=False),
    ] = None,
) -> None:
    """Write the registry as GET /api/v1/developer/tools.json serves it (tools, version, count)."""
    text = json.dumps(tools_payload(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    _output.success(f"Wrote {len(REGISTRY)} tools to {output}")


@app.command("install-skill")
def install_skill(
    target: Annotated[
        SkillTarget,
        typer.Option(
            "--target", help="claude-code: copy into the skills folder; claude-ai: write a zip."
        ),
    ] = SkillTarget.claude_code,
    dest: Annotated[
        Path | None,
        typer.Option("--dest", help="Skills folder for claude-code [default: ~/.claude/skills]."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help=f"Zip for claude-ai [default: ./{SKILL_NAME}.zip].",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Install the bundled pictograph-cv skill for Claude Code and/or claude.ai."""
    if target in (SkillTarget.claude_code, SkillTarget.both):
        folder = (dest or Path.home() / ".claude" / "skills") / SKILL_NAME
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(SKILL_DIR, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _output.success(f"Installed the {SKILL_NAME} skill in {folder}")
    if target in (SkillTarget.claude_ai, SkillTarget.both):
        archive = output or Path.cwd() / f"{SKILL_NAME}.zip"
        write_skill_zip(archive)
        _output.success(f"Wrote {archive}: upload it in claude.ai under Settings → Capabilities")


def write_skill_zip(archive: Path) -> None:
    """The skill zipped with its folder at the root, the layout claude.ai's upload expects."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(SKILL_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                bundle.write(path, Path(SKILL_NAME) / path.relative_to(SKILL_DIR))


@app.command("mcp")
def mcp(
    ctx: typer.Context,
    transport: Annotated[
        McpTransport,
        typer.Option("--transport", help="stdio for a client that launches it; http to share it."),
    ] = McpTransport.stdio,
    host: Annotated[str, typer.Option("--host", help="HTTP interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP port.")] = 8765,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Serve the agent tools over the Model Context Protocol (HTTP at http://HOST:PORT/mcp)."""
    from pictograph.agents.mcp_server import serve
    from pictograph.agents.toolkit import create_toolkit

    given = global_options(ctx)
    client = build_client(api_key or given.api_key, base_url or given.base_url)
    ctx.call_on_close(client.close)
    if transport is McpTransport.http:
        _output.info(f"MCP server on http://{host}:{port}/mcp (Ctrl+C to stop)")
    serve(create_toolkit(client), transport=transport.value, host=host, port=port)
