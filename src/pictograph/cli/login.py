"""``pictograph login``: check an API key against the server, then save it to the config file."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import (
    ApiKeyOption,
    BaseUrlOption,
    JsonOption,
    build_client,
    global_options,
    resolve_base_url,
)
from pictograph.config_file import write_config


def login(
    ctx: typer.Context,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    verify: Annotated[
        bool,
        typer.Option("--verify/--no-verify", help="Check the key with the server before saving."),
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Save an API key (and server URL) to ~/.pictograph/config.toml; prompts when no --api-key."""
    given = global_options(ctx)
    key = (api_key or given.api_key or "").strip()
    if not key:
        key = typer.prompt("Pictograph API key", hide_input=True, err=True).strip()
    if not key.startswith("pk_"):
        _output.warn("API keys normally start with 'pk_live_'.")
    url = resolve_base_url(base_url or given.base_url)
    organization = None
    if verify:
        with build_client(key, url) as client:
            organization = client.organizations.me()
            url = client.base_url
    path = write_config(api_key=key, base_url=url)
    result = {"config_file": str(path), "base_url": url, "organization": organization}
    _output.print_result(result, as_json=json_output or given.json, render=_render_login)


def _render_login(result: dict[str, Any]) -> None:
    organization = result["organization"]
    who = f" to {organization.name}" if organization is not None else ""
    where = f" ({result['base_url']})" if result["base_url"] else ""
    _output.success(f"Logged in{who}{where}; saved to {result['config_file']}")
