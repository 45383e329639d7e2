"""Conformance: the published ``pictograph`` 1.0.x client, unmodified, against our server.

The client is installed from the package index into its own virtual environment (it has the
same import name as this project, so it cannot share ours), then drives every resource of the
foundation through ``published_client_script.py``. The environment is cached in
``.conformance-venv`` (or $PICTOGRAPH_CONFORMANCE_VENV) between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PUBLISHED = "pictograph==1.0.2"
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("published_client_script.py")

pytestmark = pytest.mark.conformance


def published_client_python() -> Path:
    env_dir = Path(os.environ.get("PICTOGRAPH_CONFORMANCE_VENV", ROOT / ".conformance-venv"))
    python = env_dir / "bin" / "python"
    marker = env_dir / f".installed-{PUBLISHED}"
    if marker.exists():
        return python
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", PUBLISHED],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot install {PUBLISHED}: {result.stderr[-2000:]}")
        pytest.skip(f"cannot install {PUBLISHED} (no package index?)")
    marker.touch()
    return python


def test_published_client_drives_every_resource(live_server, tmp_path):
    python = published_client_python()
    from tests.vision.coded_video import write_video

    write_video(tmp_path / "clip.mp4", frames=60, fps=30)  # the script's video steps upload it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICTOGRAPH_")}
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        [str(python), str(SCRIPT), live_server.base_url, live_server.api_key, str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    steps = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    failed = [s for s in steps if not s["ok"]]
    assert len(steps) >= 20, result.stdout
    assert not failed, json.dumps(failed, indent=1)
