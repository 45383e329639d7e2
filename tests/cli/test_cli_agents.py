"""``pictograph agents list-tools | export-tools | install-skill``: offline, from the registry."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from pictograph.agents.registry import REGISTRY, tools_payload
from pictograph.cli.agents import SKILL_DIR
from tests.cli.conftest import Cli

SKILL_FILES = sorted(
    str(p.relative_to(SKILL_DIR))
    for p in SKILL_DIR.rglob("*")
    if p.is_file() and "__pycache__" not in p.parts
)


def content(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "generated_at"}


def test_list_tools_as_a_table(offline_cli: Cli) -> None:
    out = offline_cli.ok("agents", "list-tools").stdout
    assert "Agent tools (28)" in out
    for spec in REGISTRY:
        assert spec.name in out
    assert "train_pipeline" in out and "member" in out and "100" in out


def test_list_tools_as_json(offline_cli: Cli) -> None:
    for args in (("agents", "list-tools", "--json"), ("--json", "agents", "list-tools")):
        rows = offline_cli(*args).json()
        assert [r["name"] for r in rows] == [s.name for s in REGISTRY]
        delete = next(r for r in rows if r["name"] == "delete_dataset")
        assert delete == {
            "name": "delete_dataset",
            "category": "Datasets",
            "role": "admin",
            "cost": 0,
            "idempotent": delete["idempotent"],
            "destructive": True,
        }


def test_export_tools_to_a_file_and_stdout(offline_cli: Cli) -> None:
    target = offline_cli.cwd / "out" / "tools.json"
    result = offline_cli.ok("agents", "export-tools", "-o", str(target))
    assert "28 tools" in result.stdout
    written = json.loads(target.read_text())
    assert content(written) == content(tools_payload()) and written["count"] == 28
    assert content(offline_cli("agents", "export-tools").json()) == content(tools_payload())


def test_install_skill_for_claude_code_overwrites(offline_cli: Cli, tmp_path: Path) -> None:
    skills = tmp_path / "skills"
    stale = skills / "pictograph-cv" / "old.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an older SDK")
    offline_cli.ok("agents", "install-skill", "--target", "claude-code", "--dest", str(skills))
    installed = skills / "pictograph-cv"
    assert not stale.exists()
    assert sorted(str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file()) == (
        SKILL_FILES
    )
    assert (installed / "SKILL.md").read_text() == (SKILL_DIR / "SKILL.md").read_text()


def test_install_skill_defaults_to_the_home_folder(offline_cli: Cli, tmp_path: Path) -> None:
    home = tmp_path / "home-dir"
    offline_cli.ok("agents", "install-skill", env={"HOME": str(home)})
    assert (home / ".claude" / "skills" / "pictograph-cv" / "SKILL.md").is_file()


def test_install_skill_for_claude_ai_writes_a_zip(offline_cli: Cli) -> None:
    offline_cli.ok("agents", "install-skill", "--target", "claude-ai")
    with zipfile.ZipFile(offline_cli.cwd / "pictograph-cv.zip") as bundle:
        assert sorted(bundle.namelist()) == [f"pictograph-cv/{name}" for name in SKILL_FILES]


def test_install_skill_both(offline_cli: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "dist" / "skill.zip"
    offline_cli.ok(
        "agents", "install-skill", "--target", "both", "--dest", str(tmp_path / "s"), "-o",
        str(archive),
    )
    assert (tmp_path / "s" / "pictograph-cv" / "SKILL.md").is_file() and archive.is_file()


def test_install_skill_rejects_an_unknown_target(offline_cli: Cli) -> None:
    result = offline_cli("agents", "install-skill", "--target", "vscode")
    assert result.returncode == 2 and "claude-code" in result.stderr
