"""``pictograph credits balance | history | estimate``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pictograph.cli import _output
from pictograph.cli._context import ApiKeyOption, BaseUrlOption, JsonOption, Session
from pictograph.cli._output import Column

app = typer.Typer(no_args_is_help=True, help="Credit balance, ledger and cost estimates.")

LEDGER_COLUMNS: list[Column] = [
    ("created_at", "when"),
    "operation",
    "amount",
    ("balance_after", "balance"),
    "description",
]


def _render_balance(balance: Any) -> None:
    record = _output.to_json(balance)
    _output.print_record(
        record,
        ["credits_remaining", "credits_monthly_allowance", "credits_reset_at"],
        title="Credits",
    )
    if record.get("recent_history"):
        _output.print_table(record["recent_history"], LEDGER_COLUMNS, title="Recent activity")


@app.command("balance")
def balance(
    ctx: typer.Context,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the credit balance, monthly allowance and recent activity."""
    cli = Session(ctx, api_key, base_url, json_output)
    _output.print_result(cli.client.credits.balance(), as_json=cli.json, render=_render_balance)


@app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="Entries to show.")
    ] = 50,
    offset: Annotated[
        int, typer.Option("--offset", min=0, help="Entries to skip (newest first).")
    ] = 0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Page through the credit ledger, newest first (negative amounts are debits)."""
    cli = Session(ctx, api_key, base_url, json_output)
    entries = cli.client.credits.history(limit=limit, offset=offset)
    _output.print_result(
        entries,
        as_json=cli.json,
        render=lambda items: _output.print_table(
            _output.to_json(items), LEDGER_COLUMNS, title="Ledger entries"
        ),
    )


@app.command("estimate")
def estimate(
    ctx: typer.Context,
    operation: Annotated[
        str,
        typer.Argument(help="Operation slug, e.g. training_a10g_per_minute.", show_default=False),
    ],
    quantity: Annotated[
        int, typer.Option("--quantity", "-q", min=1, help="Units (minutes, images, …).")
    ] = 1,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Estimate what an operation would cost and whether the balance covers it."""
    cli = Session(ctx, api_key, base_url, json_output)
    result = cli.client.credits.estimate(operation, quantity=quantity)
    _output.print_result(
        result,
        as_json=cli.json,
        render=lambda r: _output.print_record(_output.to_json(r), title="Estimate"),
    )
