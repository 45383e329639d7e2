"""``pictograph server start``: run the Pictograph server in the foreground.

The server modules are imported inside the command, so every other command works on an
install without the ``server`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer

from pictograph.cli import _output

app = typer.Typer(no_args_is_help=True, help="Run the Pictograph server.")

EXIT_USAGE = 2


@app.command("start")
def start(
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Interface to bind (env PICTOGRAPH_HOST).", show_default="127.0.0.1"
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            help="TCP port (env PICTOGRAPH_PORT).",
            show_default="8080",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            file_okay=False,
            help="Database, blobs and job state (env PICTOGRAPH_DATA_DIR).",
            show_default="~/.pictograph/data",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL, e.g. postgresql+psycopg://… (env PICTOGRAPH_DATABASE_URL).",
            show_default="SQLite file in the data dir",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="URL clients reach the server at, when behind a proxy (env PICTOGRAPH_PUBLIC_URL).",
            show_default="http://HOST:PORT",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Server processes sharing the port (env PICTOGRAPH_WORKERS); rate-limit "
            "windows are per process unless PICTOGRAPH_REDIS_URL is set.",
            show_default="1",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Start the server; settings come from PICTOGRAPH_* environment variables, overridden by these flags."""
    try:
        from sqlalchemy.engine import make_url

        from pictograph.server.run import serve
        from pictograph.server.settings import Settings
    except ImportError as exc:
        _output.error(f"the server needs its extra: pip install 'pictograph[server]' ({exc})")
        raise typer.Exit(EXIT_USAGE) from exc
    flags: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir.expanduser() if data_dir else None,
        "database_url": database_url,
        "public_url": public_url,
        "workers": workers,
    }
    try:
        settings = Settings(**{name: value for name, value in flags.items() if value is not None})
    except pydantic.ValidationError as exc:
        _output.error("invalid server settings")
        _output.print_field_errors(exc.errors(include_url=False))
        raise typer.Exit(EXIT_USAGE) from exc
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    _output.info(
        f"Pictograph server at {settings.base_url} (data: {settings.data_dir}; database: {database})"
    )
    serve(settings, log_level=log_level)


@app.command("worker")
def worker(
    queue: Annotated[
        list[str],
        typer.Option("--queue", "-q", help="Queue to take jobs from (repeatable), e.g. a100."),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            file_okay=False,
            help="The server's data directory.",
            show_default="~/.pictograph/data",
        ),
    ] = None,  # fmt: skip
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="The server's database URL.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Jobs at once.")] = 1,
) -> None:
    """Run jobs of the given queues without the HTTP API (e.g. training on a GPU machine)."""
    try:
        from pictograph.server.settings import Settings
        from pictograph.server.worker import run_worker
    except ImportError as exc:
        _output.error(
            f"the worker needs the server extra: pip install 'pictograph[server]' ({exc})"
        )
        raise typer.Exit(EXIT_USAGE) from exc
    flags = {"data_dir": data_dir.expanduser() if data_dir else None, "database_url": database_url}
    settings = Settings(**{name: value for name, value in flags.items() if value is not None})
    _output.info(f"Pictograph worker on queues {', '.join(queue)} (data: {settings.data_dir})")
    run_worker(settings, tuple(queue), workers)
