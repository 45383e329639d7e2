"""``pictograph login``, and where every other command finds its key and server."""

from __future__ import annotations

from pathlib import Path

import tomllib

from tests.cli.conftest import Cli
from tests.live_server import LiveServer

NO_ENV = {"PICTOGRAPH_API_KEY": None, "PICTOGRAPH_BASE_URL": None}
BAD_KEY = "pk_live_this_key_does_not_exist_000000"


def read_config(path: Path) -> dict[str, str]:
    return tomllib.loads(path.read_text())["default"]


def test_login_verifies_then_writes_config_that_later_commands_use(
    cli: Cli, live_server: LiveServer, config_file: Path
) -> None:
    result = cli.ok(
        "login", "--api-key", live_server.api_key, "--base-url", live_server.base_url, env=NO_ENV
    )
    assert "Logged in" in result.stdout
    assert read_config(config_file) == {
        "api_key": live_server.api_key,
        "base_url": live_server.base_url,
    }
    assert oct(config_file.stat().st_mode & 0o777) == "0o600"
    as_json = cli.ok(
        "login",
        "--api-key",
        live_server.api_key,
        "--base-url",
        live_server.base_url,
        "--json",
        env=NO_ENV,
    ).json()
    assert as_json["config_file"] == str(config_file) and as_json["organization"]["id"]

    # No key or URL in the environment: both come from the file login wrote.
    listed = cli.ok("datasets", "list", "--json", env=NO_ENV).json()
    assert isinstance(listed, list)
    balance = cli.ok("credits", "balance", "--json", env=NO_ENV).json()
    assert "credits_remaining" in balance


def test_login_prompts_with_hidden_input(
    cli: Cli, live_server: LiveServer, config_file: Path
) -> None:
    # A new session has no controlling terminal, so the hidden prompt reads stdin.
    result = cli(
        "login",
        "--base-url",
        live_server.base_url,
        input=f"{live_server.api_key}\n",
        env=NO_ENV,
        start_new_session=True,
    )
    assert result.returncode == 0, result.describe()
    assert "Pictograph API key" in result.stderr
    assert live_server.api_key not in result.stdout + result.stderr, "the key is never echoed"
    assert read_config(config_file)["api_key"] == live_server.api_key


def test_login_with_a_rejected_key_writes_nothing(
    cli: Cli, live_server: LiveServer, config_file: Path
) -> None:
    result = cli("login", "--api-key", BAD_KEY, "--base-url", live_server.base_url, env=NO_ENV)
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: "), result.describe()
    assert not config_file.exists()


def test_login_keeps_the_saved_base_url(
    cli: Cli, live_server: LiveServer, config_file: Path
) -> None:
    cli.ok(
        "login", "--api-key", live_server.api_key, "--base-url", live_server.base_url, env=NO_ENV
    )
    cli.ok("login", "--api-key", live_server.api_key, env=NO_ENV)
    assert read_config(config_file)["base_url"] == live_server.base_url


def test_key_resolution_order(cli: Cli, live_server: LiveServer, config_file: Path) -> None:
    # config file < environment
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        f'[default]\napi_key = "{BAD_KEY}"\nbase_url = "{live_server.base_url}"\n'
    )
    cli.ok("datasets", "list", "--json")
    assert cli("datasets", "list", env={"PICTOGRAPH_API_KEY": None}).returncode == 1

    # environment < --api-key, on the command or before the group
    rejected = cli("datasets", "list", "--api-key", BAD_KEY)
    assert rejected.returncode == 1 and rejected.stderr.startswith("error: "), rejected.describe()
    assert cli("--api-key", BAD_KEY, "datasets", "list").returncode == 1
    # the command's own flag beats the one before the group
    cli.ok("--api-key", BAD_KEY, "datasets", "list", "--api-key", live_server.api_key)


def test_base_url_flag_overrides_environment(cli: Cli, live_server: LiveServer) -> None:
    wrong = {"PICTOGRAPH_BASE_URL": "http://127.0.0.1:9"}
    cli.ok("datasets", "list", "--base-url", live_server.base_url, env=wrong)
    cli.ok("--base-url", live_server.base_url, "datasets", "list", env=wrong)


def test_global_json_before_the_group(cli: Cli) -> None:
    assert isinstance(cli.ok("--json", "datasets", "list").json(), list)
    assert "credits_remaining" in cli.ok("--json", "credits", "balance").json()
