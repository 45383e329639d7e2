"""The bundled pictograph-cv skill: well-formed for Claude Skills, its tool table in step with
the registry, and its scripts working against the live server as an agent would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pictograph.agents.registry import REGISTRY
from pictograph.cli.agents import SKILL_DIR
from tests.live_server import LiveServer

SCRIPTS = sorted(p for p in (SKILL_DIR / "scripts").glob("*.py") if not p.name.startswith("_"))


def run_script(
    script: str, *args: str, server: LiveServer | None = None, tmp_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICTOGRAPH_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the packaged skill folder clean
    if server is not None:
        env["PICTOGRAPH_API_KEY"] = server.api_key
        env["PICTOGRAPH_BASE_URL"] = server.base_url
    if tmp_path is not None:
        env["PICTOGRAPH_CONFIG_FILE"] = str(tmp_path / "none.toml")
    return subprocess.run(
        [sys.executable, str(SKILL_DIR / "scripts" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def frontmatter(text: str) -> dict[str, str]:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "SKILL.md must open with YAML frontmatter"
    return dict(line.split(": ", 1) for line in match[1].splitlines())


def test_skill_md_follows_the_claude_skills_conventions() -> None:
    text = (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8")
    meta = frontmatter(text)
    assert meta["name"] == SKILL_DIR.name == "pictograph-cv"
    assert re.fullmatch(r"[a-z0-9-]{1,64}", meta["name"])
    assert meta["description"].startswith("Use when") and len(meta["description"]) <= 1024
    for linked in re.findall(r"`((?:reference|scripts)/[\w.]+)", text):
        assert (SKILL_DIR / linked).is_file(), linked
    assert len(SCRIPTS) >= 4


def test_the_tools_reference_matches_the_registry() -> None:
    rows = {}
    for line in (SKILL_DIR / "reference" / "tools.md").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| `(\w+)`[^|]*\| ([\w-]+) \| (\w+) \| (\d+) \|", line):
            rows[match[1]] = (match[2], match[3], int(match[4]))
    assert rows == {
        spec.name: (spec.category, spec.required_role, spec.credit_cost) for spec in REGISTRY
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_explains_itself(script: Path) -> None:
    done = run_script(script.name, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")


def test_a_missing_key_is_one_clear_line(tmp_path: Path) -> None:
    done = run_script("list_datasets.py", tmp_path=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("error: ConfigurationError")
    assert "Traceback" not in done.stderr


def test_the_scripts_drive_the_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "left").mkdir(parents=True)
    Image.new("RGB", (64, 64), (200, 40, 40)).save(folder / "a.png")
    Image.new("RGB", (64, 64), (40, 40, 200)).save(folder / "left" / "b.png")
    name = f"skill-{uuid.uuid4().hex[:8]}"

    def ok(script: str, *args: str) -> Any:
        done = run_script(script, *args, server=live_server, tmp_path=tmp_path)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    uploaded = ok("upload_folder.py", str(folder), "--dataset", name, "--workers", "2")
    assert uploaded["success"] and uploaded["images_uploaded"] == 2
    status = ok("dataset_status.py", name)
    assert status["images"] == 2 and sorted(status["sample_images"]) == ["a.png", "b.png"]
    listed = ok("list_datasets.py", "--contains", name.upper())
    assert [d["name"] for d in listed] == [name]
    estimate = ok("estimate_cost.py", "sam3_auto_annotation", "--quantity", "3")
    assert estimate["quantity"] == 3 and isinstance(estimate["sufficient"], bool)

    missing = run_script("dataset_status.py", f"no-{name}", server=live_server, tmp_path=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: NotFoundError")
