"""What the CLI does without a server: version, help, usage and configuration errors, init."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from pictograph import __version__
from tests.cli.conftest import Cli

COMMANDS = [
    [],
    ["login"],
    ["init"],
    ["datasets"],
    ["datasets", "list"],
    ["datasets", "get"],
    ["datasets", "create"],
    ["datasets", "delete"],
    ["datasets", "download"],
    ["images"],
    ["images", "upload"],
    ["images", "download"],
    ["images", "delete"],
    ["annotations"],
    ["annotations", "get"],
    ["annotations", "save"],
    ["annotations", "delete"],
    ["credits"],
    ["credits", "balance"],
    ["credits", "history"],
    ["credits", "estimate"],
    ["server"],
    ["server", "start"],
]
API_COMMANDS = [
    ["datasets", "list"],
    ["datasets", "get", "x"],
    ["datasets", "create", "x"],
    ["datasets", "delete", "x", "--yes"],
    ["datasets", "download", "x", "-o", "out"],
    ["images", "download", "some-id", "-o", "x.png"],
    ["images", "delete", "some-id", "--yes"],
    ["annotations", "get", "some-id"],
    ["annotations", "delete", "some-id", "--yes"],
    ["credits", "balance"],
    ["credits", "history"],
    ["credits", "estimate", "image_inference"],
]


def test_version(offline_cli: Cli) -> None:
    for flag in ("--version", "-V"):
        result = offline_cli.ok(flag)
        assert result.stdout.strip() == f"pictograph {__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_on_every_command(offline_cli: Cli, command: list[str]) -> None:
    result = offline_cli.ok(*command, "--help")
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("command", API_COMMANDS, ids=" ".join)
def test_api_commands_accept_api_key_and_json(offline_cli: Cli, command: list[str]) -> None:
    result = offline_cli.ok(*command[:2], "--help")
    assert (
        "--api-key" in result.stdout and "--json" in result.stdout and "--base-url" in result.stdout
    )


@pytest.mark.parametrize("command", API_COMMANDS, ids=" ".join)
def test_no_api_key_is_a_configuration_error(offline_cli: Cli, command: list[str]) -> None:
    result = offline_cli(*command, "--json")
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("error: No API key"), result.describe()
    assert "pictograph login" in result.stderr and "PICTOGRAPH_API_KEY" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ["datasets", "get"],
        ["datasets", "download", "name"],  # -o is required
        ["images", "upload", "does-not-exist.png", "--dataset", "x"],
        ["images", "upload"],
        ["annotations", "save", "image-id"],  # --file is required
        ["credits", "history", "--limit", "0"],
        ["datasets", "list", "--no-such-flag"],
        ["no-such-group"],
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2(offline_cli: Cli, command: list[str]) -> None:
    result = offline_cli(*command, env={"PICTOGRAPH_API_KEY": "pk_live_unused_key_for_usage_tests"})
    assert result.returncode == 2, result.describe()


def test_group_without_command_shows_help(offline_cli: Cli) -> None:
    result = offline_cli("datasets")
    assert result.returncode == 2 and "Usage:" in result.stdout + result.stderr


def test_folder_option_rejected_for_directories(offline_cli: Cli, image_folder) -> None:
    result = offline_cli(
        "images",
        "upload",
        str(image_folder),
        "--dataset",
        "x",
        "--folder",
        "/cars",
        env={"PICTOGRAPH_API_KEY": "pk_live_unused_key_for_usage_tests"},
    )
    assert result.returncode == 2, result.describe()
    assert "--folder" in result.stderr


def test_bad_class_spec_is_a_usage_error(offline_cli: Cli) -> None:
    result = offline_cli(
        "datasets",
        "create",
        "x",
        "--class",
        "car:circle",
        env={"PICTOGRAPH_API_KEY": "pk_live_unused_key_for_usage_tests"},
    )
    assert result.returncode == 2, result.describe()
    assert "bbox, polygon, polyline, keypoint" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "is not valid JSON"),
        ('{"id": "a"}', "must hold a JSON list"),
        (
            json.dumps(
                [
                    {
                        "id": "a",
                        "class": "car",
                        "type": "bbox",
                        "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1},
                    },
                    {
                        "id": "b",
                        "name": "car",
                        "type": "polygon",
                        "polygon": {"paths": [[{"x": 0, "y": 0}]]},
                    },
                ]
            ),
            "[0].name",
        ),
    ],
    ids=["not-json", "not-a-list", "invalid-fields"],
)
def test_annotation_file_is_validated_before_sending(
    offline_cli: Cli, content: str, expected: str
) -> None:
    path = offline_cli.cwd / "anns.json"
    path.write_text(content)
    # No server listens at this URL: the file must be rejected before any request is made.
    result = offline_cli(
        "annotations",
        "save",
        "image-id",
        "--file",
        str(path),
        env={
            "PICTOGRAPH_API_KEY": "pk_live_unused_key_for_usage_tests",
            "PICTOGRAPH_BASE_URL": "http://127.0.0.1:9",
        },
    )
    assert result.returncode == 2, result.describe()
    assert result.stderr.startswith("error: "), result.describe()
    assert expected in result.stderr, result.describe()
    if expected.startswith("[0]"):
        assert (
            "[0].class" in result.stderr
            and "[1].polygon.paths" in result.stderr
            and "requires >= 3" in result.stderr
        )


def test_unreachable_server_is_an_api_error(offline_cli: Cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    result = offline_cli(
        "datasets",
        "list",
        env={
            "PICTOGRAPH_API_KEY": "pk_live_unused_key_for_usage_tests",
            "PICTOGRAPH_BASE_URL": f"http://127.0.0.1:{closed_port}",
        },
    )
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: "), result.describe()
    assert "Traceback" not in result.stderr


def test_init_writes_agents_md_and_refuses_to_overwrite(offline_cli: Cli) -> None:
    target = offline_cli.cwd / "AGENTS.md"
    offline_cli.ok("init")
    text = target.read_text()
    assert (
        "pictograph datasets list" in text
        and "`name` (the class label" in text
        and "PICTOGRAPH_API_KEY" in text
    )

    target.write_text("mine")
    refused = offline_cli("init")
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert target.read_text() == "mine"

    offline_cli.ok("init", "--force")
    assert target.read_text() == text


def test_init_into_another_directory(offline_cli: Cli) -> None:
    offline_cli.ok("init", "--dir", "docs/agents")
    assert (offline_cli.cwd / "docs" / "agents" / "AGENTS.md").is_file()


def test_cli_does_not_import_the_server(offline_cli: Cli) -> None:
    """Every command but `server start` must work on an install without the server extra."""
    probe = (
        "import sys, pictograph.cli.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'uvicorn', 'sqlalchemy', 'alembic'} or m.startswith('pictograph.server')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env=offline_cli.env,
    )
    assert done.stdout.strip() == "[]"
