"""The ``pictograph`` command: a thin Typer wrapper over the SDK, plus ``server start``.

Exit codes: 0 success; 1 an API error (or another failure the CLI reports cleanly);
2 a usage or configuration error (bad arguments, no API key).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from pictograph._version import __version__
from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, GlobalOptions, JsonOption
from pictograph.cli.agents import app as agents_app
from pictograph.cli.annotate import annotate
from pictograph.cli.annotations import app as annotations_app
from pictograph.cli.credits import app as credits_app
from pictograph.cli.datasets import app as datasets_app
from pictograph.cli.export import export
from pictograph.cli.images import app as images_app
from pictograph.cli.import_ import import_command
from pictograph.cli.init import init
from pictograph.cli.login import login
from pictograph.cli.models import app as models_app
from pictograph.cli.server import app as server_app
from pictograph.cli.train import app as train_app
from pictograph.exceptions import (
    ConfigurationError,
    PictographError,
    RateLimitError,
    ValidationError,
)

EXIT_API_ERROR = 1
EXIT_USAGE = 2


def report_error(exc: PictographError) -> int:
    """Print ``error: <message>`` (plus each invalid field, or the rate-limit estimate); return the exit code."""
    _output.error(exc.message)
    if isinstance(exc, ValidationError):
        _output.print_field_errors(exc.errors)
    if isinstance(exc, RateLimitError) and exc.retry_after is not None:
        _output.info(f"  rate limit: retry in about {exc.retry_after:.0f}s")
    return EXIT_USAGE if isinstance(exc, ConfigurationError) else EXIT_API_ERROR


class _Root(TyperGroup):
    """Turns SDK exceptions from any subcommand into one stderr line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PictographError as exc:
            raise typer.Exit(report_error(exc)) from exc
        except OSError as exc:
            _output.error(str(exc))
            raise typer.Exit(EXIT_API_ERROR) from exc


app = typer.Typer(
    name="pictograph",
    cls=_Root,
    help="Pictograph: self-hosted computer-vision data platform. Mirrors the Python SDK.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["--help", "-h"]},
)
app.command("login")(login)
app.command("init")(init)
app.command("export")(export)
app.command("import")(import_command)
app.command("annotate")(annotate)
app.add_typer(datasets_app, name="datasets")
app.add_typer(images_app, name="images")
app.add_typer(annotations_app, name="annotations")
app.add_typer(credits_app, name="credits")
app.add_typer(models_app, name="models")
app.add_typer(server_app, name="server")
app.add_typer(train_app, name="train")
app.add_typer(agents_app, name="agents")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pictograph {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Pictograph: self-hosted computer-vision data platform. Mirrors the Python SDK."""
    ctx.obj = GlobalOptions(api_key=api_key, base_url=base_url, json=json_output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
