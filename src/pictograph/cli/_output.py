"""Everything the CLI prints: JSON for scripts, Rich tables for people, errors and progress on stderr.

stdout carries only the result (a table, or JSON with ``--json``) so that ``pictograph … --json | jq``
always parses; prompts, progress bars, warnings and errors go to stderr.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pictograph.client.resources.datasets import ProgressCallback
from pictograph.exceptions import RateLimitError

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def to_json(value: Any) -> Any:
    """Models as ``model_dump(mode="json")``, report dataclasses field by field, lists as arrays."""
    return to_jsonable_python(value)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_json(value), indent=2, ensure_ascii=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "[dim]—[/dim]"
    if isinstance(value, bool):
        return "[green]yes[/green]" if value else "[red]no[/red]"
    if isinstance(value, (list, tuple)):
        return escape(", ".join(_plain(item) for item in value))
    if isinstance(value, str) and (moment := _TIMESTAMP.match(value)):
        return f"{moment[1]} {moment[2]}"
    return escape(_plain(value))


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        if "name" in value:
            return str(value["name"])
        return json.dumps(value, ensure_ascii=False)
    return str(value)


Column = str | tuple[str, str]
"""A key of an item's JSON form, or ``(key, header)`` for a shorter heading."""


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    quiet_if_empty: bool = False,
) -> None:
    """One row per item, one column per ``Column``; long values wrap, never cut."""
    if not rows:
        if not quiet_if_empty:
            stdout.print(f"[dim]No {title.lower() if title else 'results'}.[/dim]")
        return
    table = Table(title=title, header_style="bold", title_justify="left")
    keys = []
    for column in columns:
        key, header = column if isinstance(column, tuple) else (column, column)
        keys.append(key)
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key in keys))
    stdout.print(table)


def print_record(
    record: Mapping[str, Any], fields: Sequence[str] | None = None, *, title: str | None = None
) -> None:
    """One item as a two-column field / value table."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for field in fields or list(record):
        if field in record:
            table.add_row(field, _cell(record[field]))
    stdout.print(table)


def print_result(value: Any, *, as_json: bool, render: Callable[[Any], None]) -> None:
    """``--json`` prints the JSON form; otherwise ``render`` draws it for a terminal."""
    if as_json:
        print_json(value)
    else:
        render(value)


def confirm(question: str, *, assume_yes: bool) -> None:
    """Ask ``question`` on stderr, so stdout stays a clean result; "no" aborts (exit 1).
    ``--yes`` (``assume_yes``) skips the question, for scripts."""
    if not assume_yes:
        typer.confirm(question, abort=True, err=True)


def success(message: str) -> None:
    stdout.print(f"[green]✓[/green] {escape(message)}", soft_wrap=True)


def info(message: str) -> None:
    """A note for the person at the terminal; on stderr so it never mixes into a result."""
    stderr.print(escape(message))


def warn(message: str) -> None:
    stderr.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")


def error(message: str) -> None:
    stderr.print(f"[bold red]error:[/bold red] {escape(message)}")


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr driven by the SDK's ``(done, total, filename)`` callbacks."""
    if not enabled:
        yield lambda done, total, filename: None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("[dim]{task.fields[filename]}"),
        console=stderr,
        transient=False,
    )
    task = bar.add_task(description, total=None, filename="")

    def update(done: int, total: int, filename: str | None) -> None:
        bar.update(task, completed=done, total=total, filename=filename or "")

    with bar:
        yield update


def format_loc(loc: Sequence[Any]) -> str:
    """``("body", "annotations", 0, "name")`` → ``body.annotations[0].name``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def print_field_errors(errors: Sequence[Mapping[str, Any]]) -> None:
    """Pydantic-style ``{"loc": [...], "msg": ...}`` entries, one per line under the error."""
    for item in errors:
        loc = item.get("loc") or ()
        where = format_loc(loc if isinstance(loc, (list, tuple)) else (loc,))
        stderr.print(f"  [bold]{escape(where)}[/bold]: {escape(str(item.get('msg', '')))}")


LONG_WAIT_SECONDS = 5.0


class _RateLimitWaitNotice(logging.Handler):
    """Prints the SDK's own retry estimate when it sleeps on a 429, so a person can Ctrl-C a long wait.

    The transport logs each retry with ``retry_delay`` and ``retry_error`` attached to the
    record; only rate-limit waits of at least LONG_WAIT_SECONDS are shown.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(getattr(record, "retry_error", None), RateLimitError):
            return
        delay = getattr(record, "retry_delay", None)
        if delay is not None and delay >= LONG_WAIT_SECONDS:
            stderr.print(
                f"[yellow]rate limited:[/yellow] retrying in {delay:.0f}s (Ctrl-C to stop)"
            )


def announce_rate_limit_waits() -> None:
    sdk_logger = logging.getLogger("pictograph.client")
    if not any(isinstance(handler, _RateLimitWaitNotice) for handler in sdk_logger.handlers):
        sdk_logger.addHandler(_RateLimitWaitNotice())
        if sdk_logger.getEffectiveLevel() > logging.DEBUG:
            sdk_logger.setLevel(logging.DEBUG)
