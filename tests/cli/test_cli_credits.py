"""``pictograph credits`` against the real server."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_balance(cli: Cli) -> None:
    balance = cli.ok("credits", "balance", "--json").json()
    assert balance["credits_remaining"] >= 0 and balance["credits_monthly_allowance"] > 0
    table = cli.ok("credits", "balance")
    assert "credits_remaining" in table.stdout and str(balance["credits_remaining"]) in table.stdout


def test_history(cli: Cli) -> None:
    entries = cli.ok("credits", "history", "--limit", "5", "--json").json()
    assert isinstance(entries, list) and len(entries) <= 5
    for entry in entries:
        assert {"operation", "amount", "created_at"} <= set(entry)
    cli.ok("credits", "history", "-n", "5")


def test_estimate(cli: Cli) -> None:
    estimate = cli.ok(
        "credits", "estimate", "training_a10g_per_minute", "-q", "30", "--json"
    ).json()
    assert estimate["operation"] == "training_a10g_per_minute" and estimate["quantity"] == 30
    assert estimate["total_credits"] == estimate["credits_per_unit"] * 30
    assert isinstance(estimate["sufficient"], bool)
    assert "total_credits" in cli.ok("credits", "estimate", "image_inference").stdout


def test_estimate_unknown_operation(cli: Cli) -> None:
    result = cli("credits", "estimate", "no_such_operation")
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: ")
