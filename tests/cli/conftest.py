"""Run the real ``pictograph`` command in a subprocess, against the live server or none at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.live_server import LiveServer


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.describe()
        return json.loads(self.stdout)

    def describe(self) -> str:
        return f"pictograph {' '.join(self.args)} → {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@dataclass
class Cli:
    """``cli("datasets", "list")`` runs ``python -m pictograph.cli.app datasets list`` with ``env``."""

    env: dict[str, str]
    cwd: Path
    extra: dict[str, str] = field(default_factory=dict)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
        timeout: float = 120,
        **popen: Any,
    ) -> Result:
        merged = dict(self.env)
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        done = subprocess.run(
            [sys.executable, "-m", "pictograph.cli.app", *args],
            input=input if input is not None else "",
            check=False,
            capture_output=True,
            text=True,
            env=merged,
            cwd=self.cwd,
            timeout=timeout,
            **popen,
        )
        result = Result(args, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, (
            f"the CLI crashed instead of reporting an error:\n{result.describe()}"
        )
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.returncode == 0, result.describe()
        return result


def clean_environment(config_file: Path) -> dict[str, str]:
    """The caller's environment without any PICTOGRAPH_* setting, and a private config file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PICTOGRAPH_")}
    env["PICTOGRAPH_CONFIG_FILE"] = str(config_file)
    env["COLUMNS"] = "200"  # Rich tables: no truncated ids in text output
    return env


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "home" / "config.toml"


@pytest.fixture()
def offline_cli(tmp_path: Path, config_file: Path) -> Cli:
    """No server, no key: for usage errors and local-only commands."""
    work = tmp_path / "work"
    work.mkdir()
    return Cli(clean_environment(config_file), work)


@pytest.fixture()
def cli(live_server: LiveServer, tmp_path: Path, config_file: Path) -> Cli:
    """Authenticated through the environment against the live server."""
    env = clean_environment(config_file)
    env["PICTOGRAPH_BASE_URL"] = live_server.base_url
    env["PICTOGRAPH_API_KEY"] = live_server.api_key
    work = tmp_path / "work"
    work.mkdir()
    return Cli(env, work)


def write_png(
    path: Path, size: tuple[int, int] = (8, 6), color: tuple[int, int, int] = (200, 30, 30)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="PNG")
    return path


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Two images at the root and one in ``cars/`` (which becomes the virtual folder /cars)."""
    folder = tmp_path / "photos"
    write_png(folder / "a.png", (8, 6), (255, 0, 0))
    write_png(folder / "b.png", (10, 4), (0, 255, 0))
    write_png(folder / "cars" / "c.png", (5, 5), (0, 0, 255))
    return folder
