"""``pictograph export DATASET --format coco -o out.zip`` against the live server."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pictograph import Client
from tests.cli.conftest import Cli, write_png
from tests.live_server import LiveServer


@pytest.fixture()
def dataset(live_server: LiveServer, tmp_path: Path) -> Iterator[str]:
    """Two complete images (a car on each, a road on ``a``) and one new image."""
    name = f"cli-export-{uuid.uuid4().hex[:8]}"
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as sdk:
        project = sdk.projects.create(
            name,
            annotation_types=["bbox", "polygon"],
            classes=[{"name": "car", "type": "bbox"}, {"name": "road", "type": "polygon"}],
        )
        ids = {
            key: sdk.images.upload(project.id, write_png(tmp_path / "src" / f"{key}.png", (16, 12))).id
            for key in ("a", "b", "c")
        }
        box = {"name": "car", "type": "bbox", "bounding_box": {"x": 1, "y": 1, "w": 4, "h": 3}}
        road = {"name": "road", "type": "polygon",
                "polygon": {"paths": [[{"x": 0, "y": 0}, {"x": 8, "y": 0}, {"x": 8, "y": 8}]]}}  # fmt: skip
        sdk.annotations.save(ids["a"], [box, road])
        sdk.annotations.save(ids["b"], [box])
        yield name
        sdk.projects.delete(name)


def test_export_coco_writes_the_zip(cli: Cli, dataset: str) -> None:
    out = cli.cwd / "out.zip"
    result = cli.ok("export", dataset, "--format", "coco", "-o", str(out))
    assert out.is_file() and not (cli.cwd / "out.zip.part").exists()
    with zipfile.ZipFile(out) as archive:
        coco = json.loads(archive.read("annotations.json"))
        assert {"images/a.png", "images/b.png"} <= set(archive.namelist())
    assert sorted(image["file_name"] for image in coco["images"]) == ["a.png", "b.png"]
    assert len(coco["annotations"]) == 3
    assert "out.zip" in result.stdout and "2 images" in result.stdout
    assert "Building coco export" in result.stderr  # the progress bar, on stderr


def test_export_json_with_filters_and_name(cli: Cli, dataset: str) -> None:
    result = cli.ok(
        "export", dataset, "--format", "pictograph", "--name", "only-cars", "--class", "car",
        "--status", "all", "--no-images", "-o", "cars.zip", "--json",
    )  # fmt: skip
    summary = result.json()
    assert summary["name"] == "only-cars" and summary["status"] == "completed"
    assert (summary["image_count"], summary["annotation_count"]) == (3, 2)
    assert summary["class_filter"] == ["car"] and summary["include_images"] is False
    assert summary["output_path"] == "cars.zip"
    with zipfile.ZipFile(cli.cwd / "cars.zip") as archive:
        assert not any(name.startswith("images/") for name in archive.namelist())
        a = json.loads(archive.read("annotations/a.png.json"))
    assert [x["name"] for x in a["annotations"]] == ["car"]

    again = cli("export", dataset, "--name", "only-cars", "-o", "again.zip")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert not (cli.cwd / "again.zip").exists()


def test_export_default_name_and_output(cli: Cli, dataset: str) -> None:
    result = cli.ok("export", dataset, "--format", "csv", "--json")
    summary = result.json()
    assert summary["name"].startswith(f"{dataset}-csv-")
    assert (cli.cwd / f"{summary['name']}.zip").is_file()


def test_export_errors(cli: Cli, dataset: str) -> None:
    missing = cli("export", "no-such-dataset", "-o", "x.zip")
    assert missing.returncode == 1 and "error:" in missing.stderr
    bad_format = cli("export", dataset, "--format", "tfrecord")
    assert bad_format.returncode == 2  # a usage error: Typer rejects the choice
    bad_class = cli("export", dataset, "--class", "truck")
    assert bad_class.returncode == 1 and "class_filter" in bad_class.stderr


def test_export_accepts_api_key_flag(cli: Cli, dataset: str, live_server: LiveServer) -> None:
    result = cli.ok(
        "export", dataset, "--format", "cvat", "-o", "k.zip", "--api-key", live_server.api_key,
        env={"PICTOGRAPH_API_KEY": None},
    )  # fmt: skip
    assert (cli.cwd / "k.zip").is_file(), result.describe()
