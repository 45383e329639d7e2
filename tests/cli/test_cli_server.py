"""``pictograph server start`` runs a real server and keeps to the paths it is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

from tests.cli.conftest import Cli, clean_environment
from tests.live_server import free_port, wait_for_health


def snapshot(directory: Path) -> dict[str, tuple[int, int]] | None:
    if not directory.exists():
        return None
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in directory.rglob("*")
    }


def server_start(port: int, data_dir: Path) -> list[str]:
    """The ``pictograph server start`` command line, run as a module of this interpreter."""
    return [
        sys.executable,
        "-m",
        "pictograph.cli.app",
        "server",
        "start",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


def test_server_start_serves_and_writes_only_where_told(tmp_path: Path) -> None:
    real_home = Path.home() / ".pictograph"
    before = snapshot(real_home)
    config = tmp_path / "config" / "config.toml"
    data = tmp_path / "data"
    port = free_port()
    env = clean_environment(config)
    env["PICTOGRAPH_BCRYPT_ROUNDS"] = "4"
    # the flags win over the environment
    env["PICTOGRAPH_PORT"] = str(free_port())
    env["PICTOGRAPH_DATA_DIR"] = str(tmp_path / "from-env")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_start(port, data), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log)
        written = tomllib.loads(config.read_text())["default"]
        assert written["base_url"] == base_url and written["api_key"].startswith("pk_live_")
        assert (data / "pictograph.db").is_file()

        # The CLI finds the new server and its owner key through the config file alone.
        cli = Cli(env, tmp_path)
        assert cli.ok("datasets", "list", "--json").json() == []
        assert cli.ok("datasets", "create", "first", "--json").json()["name"] == "first"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status still says why it stopped.
    assert process.returncode in (0, -15), log.read_text()[-3000:]
    assert "Application shutdown complete" in log.read_text()
    assert f"Pictograph server at {base_url}" in log.read_text()
    assert not (tmp_path / "from-env").exists()
    assert snapshot(real_home) == before, "nothing may be written under the real ~/.pictograph"


def test_invalid_server_settings_are_a_usage_error(tmp_path: Path) -> None:
    """An unusable PICTOGRAPH_* value stops the command before anything is created."""
    config = tmp_path / "config.toml"
    env = clean_environment(config)
    env["PICTOGRAPH_DATA_DIR"] = str(tmp_path / "from-env")
    env["PICTOGRAPH_DEFAULT_CREDIT_ALLOWANCE"] = "not-a-number"
    result = subprocess.run(
        server_start(free_port(), tmp_path / "flag"),
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: invalid server settings")
    assert "default_credit_allowance" in result.stderr
    assert not (tmp_path / "from-env").exists() and not (tmp_path / "flag").exists()
