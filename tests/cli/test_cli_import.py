"""``pictograph import DIR|ZIP --dataset NAME [--format F]`` against the live server."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

from tests.cli.conftest import Cli, write_png


def v7_folder(root: Path) -> Path:
    write_png(root / "images" / "a.png", (16, 12), (255, 0, 0))
    write_png(root / "images" / "cars" / "b.png", (16, 12), (0, 255, 0))
    documents = {
        "a.json": ("a.png", "/", [
            {"id": "1", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 4, "h": 4}},
            {"id": "2", "name": "rainy", "tag": {}},
        ]),
        "cars/b.json": ("b.png", "/cars", [
            {"id": "3", "name": "car", "polygon": {"paths": [[{"x": 1, "y": 1}, {"x": 8, "y": 1}, {"x": 8, "y": 8}]]}},
        ]),
    }
    for relative, (name, path, shapes) in documents.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({
            "version": "2.0",
            "item": {"name": name, "path": path, "slots": [{"slot_name": "0", "width": 16, "height": 12}]},
            "annotations": shapes,
        }))
    return root


def name() -> str:
    return f"cli-import-{uuid.uuid4().hex[:8]}"


def test_import_a_folder_as_json(cli: Cli, tmp_path: Path) -> None:
    dataset = name()
    result = cli.ok("import", str(v7_folder(tmp_path / "v7")), "--dataset", dataset, "--json")
    job = result.json()
    assert job["status"] == "completed"
    report = job["report"]
    assert report["format"] == "v7" and report["dataset_name"] == dataset
    assert (report["images_imported"], report["annotations_imported"]) == (2, 2)
    assert report["skipped"] == {"v7 tag": 1}
    listed = cli.ok("datasets", "get", dataset, "--json").json()
    assert listed["image_count"] == 2


def test_import_a_zip_with_a_format_shows_a_summary(cli: Cli, tmp_path: Path) -> None:
    folder = v7_folder(tmp_path / "v7")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in folder.rglob("*"):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    dataset = name()
    result = cli.ok("import", str(archive), "--dataset", dataset, "--format", "v7")
    assert "Imported 2 images and 2 annotations" in result.stdout
    assert "v7 tag" in result.stdout
    assert "Importing into" in result.stderr  # the progress bar


def test_import_errors(cli: Cli, tmp_path: Path) -> None:
    missing = cli("import", str(tmp_path / "nope"), "--dataset", name())
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_format = cli("import", str(tmp_path), "--dataset", name(), "--format", "darknet")
    assert bad_format.returncode == 2
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(slip, "w") as out:
        out.writestr("../../evil.png", b"x")
    refused = cli("import", str(slip), "--dataset", name())
    assert refused.returncode == 1 and "zip-slip" in refused.stderr
    no_dataset = cli("import", str(v7_folder(tmp_path / "v7")), "--dataset", name(), "--no-create")
    assert no_dataset.returncode == 1 and "not found" in no_dataset.stderr


def test_import_without_an_api_key_is_a_usage_error(offline_cli: Cli, tmp_path: Path) -> None:
    result = offline_cli("import", str(v7_folder(tmp_path / "v7")), "--dataset", name())
    assert result.returncode == 2 and "API key" in result.stderr
