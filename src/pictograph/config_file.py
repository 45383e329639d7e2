"""``~/.pictograph/config.toml``: where ``pictograph login`` and the first server start keep
the API key and base URL that ``Client()`` and the CLI fall back to.

Format::

    [default]
    api_key = "pk_live_..."
    base_url = "http://127.0.0.1:8080"
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


def config_path() -> Path:
    """``$PICTOGRAPH_CONFIG_FILE`` when set (tests, several installs), else ``~/.pictograph/config.toml``."""
    override = os.environ.get("PICTOGRAPH_CONFIG_FILE")
    return Path(override).expanduser() if override else Path.home() / ".pictograph" / "config.toml"


@dataclass(frozen=True)
class FileConfig:
    api_key: str | None = None
    base_url: str | None = None


def load_config(path: Path | None = None) -> FileConfig:
    path = path or config_path()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return FileConfig()
    except tomllib.TOMLDecodeError:
        return FileConfig()
    section = data.get("default", {})
    return FileConfig(api_key=section.get("api_key"), base_url=section.get("base_url"))


def write_config(*, api_key: str, base_url: str | None = None, path: Path | None = None) -> Path:
    """Write the file readable by its owner only; the key is a secret."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # JSON string escaping is valid TOML basic-string escaping for these values.
    lines = ["[default]", f"api_key = {json.dumps(api_key)}"]
    if base_url:
        lines.append(f"base_url = {json.dumps(base_url)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
