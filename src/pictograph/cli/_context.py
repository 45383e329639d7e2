"""The options every API command shares, and the Client they resolve to.

``--api-key``, ``--base-url`` and ``--json`` are accepted both before the command group
(``pictograph --json datasets list``) and on the command itself (``pictograph datasets list
--json``); the command's own value wins. The key resolves ``--api-key`` > ``PICTOGRAPH_API_KEY``
> the config file, the base URL ``--base-url`` > ``PICTOGRAPH_BASE_URL`` > the config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated

import typer

from pictograph.cli._output import announce_rate_limit_waits
from pictograph.config_file import config_path, load_config
from pictograph.exceptions import ConfigurationError

if TYPE_CHECKING:
    from pictograph import Client

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key; overrides PICTOGRAPH_API_KEY and the config file.",
        show_default=False,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Server URL; overrides PICTOGRAPH_BASE_URL and the config file.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print JSON (model_dump(mode='json')) instead of a table."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ImageIdArgument = Annotated[str, typer.Argument(help="Image id.", show_default=False)]


@dataclass(frozen=True)
class GlobalOptions:
    """What was given before the command group; ``ctx.obj`` of the root command."""

    api_key: str | None = None
    base_url: str | None = None
    json: bool = False


def global_options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


def resolve_api_key(flag: str | None = None) -> str | None:
    return flag or os.environ.get("PICTOGRAPH_API_KEY") or load_config().api_key


def resolve_base_url(flag: str | None = None) -> str | None:
    return flag or os.environ.get("PICTOGRAPH_BASE_URL") or load_config().base_url


def build_client(api_key: str | None = None, base_url: str | None = None) -> Client:
    """A Client for the resolved key and URL; ``ConfigurationError`` (exit 2) when there is no key."""
    key = resolve_api_key(api_key)
    if not key:
        raise ConfigurationError(
            "No API key. Run `pictograph login`, set PICTOGRAPH_API_KEY, or pass --api-key "
            f"(config file: {config_path()})."
        )
    from pictograph import Client

    announce_rate_limit_waits()
    return Client(api_key=key, base_url=resolve_base_url(base_url))


class Session:
    """One command's view of the shared options; the Client is built on first use and closed on exit."""

    def __init__(
        self, ctx: typer.Context, api_key: str | None, base_url: str | None, json_output: bool
    ) -> None:
        given = global_options(ctx)
        self._ctx = ctx
        self.api_key = api_key or given.api_key
        self.base_url = base_url or given.base_url
        self.json = json_output or given.json

    @cached_property
    def client(self) -> Client:
        client = build_client(self.api_key, self.base_url)
        self._ctx.call_on_close(client.close)
        return client
