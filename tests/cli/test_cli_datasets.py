"""Datasets, images and annotations through the CLI against the real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli, write_png

BOX = {
    "id": "ann-1",
    "name": "car",
    "type": "bbox",
    "bounding_box": {"x": 1, "y": 1, "w": 3, "h": 2},
}
POLYGON = {
    "id": "ann-2",
    "name": "road",
    "type": "polygon",
    "polygon": {"paths": [[{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 4, "y": 4}]]},
}


def create_dataset(cli: Cli, name: str) -> dict:
    return cli.ok(
        "datasets",
        "create",
        name,
        "-d",
        "made by the CLI tests",
        "--class",
        "car",
        "--class",
        "road:polygon:#00ff00",
        "--json",
    ).json()


def test_round_trip(cli: Cli, unique_name: str, image_folder: Path, tmp_path: Path) -> None:
    created = create_dataset(cli, unique_name)
    assert created["name"] == unique_name and created["description"] == "made by the CLI tests"
    assert {(c["name"], c["type"]) for c in created["classes"]} == {
        ("car", "bbox"),
        ("road", "polygon"),
    }

    uploaded = cli.ok("images", "upload", str(image_folder), "--dataset", unique_name, "--json")
    summary = uploaded.json()
    assert (summary["images_attempted"], summary["images_uploaded"], summary["failures"]) == (
        3,
        3,
        [],
    )

    dataset = cli.ok("datasets", "get", unique_name, "--json").json()
    assert dataset["image_count"] == 3 and dataset.get("images") is None

    with_images = cli.ok("datasets", "get", unique_name, "--include-images", "--json").json()
    images = {image["filename"]: image for image in with_images["images"]}
    assert set(images) == {"a.png", "b.png", "c.png"}
    assert images["c.png"]["virtual_folder_path"] == "/cars"
    assert images["a.png"]["virtual_folder_path"] == "/"
    image_id = images["a.png"]["id"]

    # The table form shows the same dataset to a person.
    table = cli.ok("datasets", "get", unique_name, "--include-images")
    assert unique_name in table.stdout and image_id in table.stdout and "c.png" in table.stdout

    # Re-uploading the folder skips what is already there.
    again = cli.ok("images", "upload", str(image_folder), "--dataset", unique_name, "--json").json()
    assert (again["images_uploaded"], again["images_skipped"]) == (0, 3)

    anns = tmp_path / "anns.json"
    anns.write_text(json.dumps([BOX, POLYGON]))
    saved = cli.ok("annotations", "save", image_id, "--file", str(anns), "--json").json()
    assert (saved["image_id"], saved["previous_count"], saved["new_count"]) == (image_id, 0, 2)

    got = cli.ok("annotations", "get", image_id, "--json").json()
    assert [(a["id"], a["name"], a["type"]) for a in got] == [
        ("ann-1", "car", "bbox"),
        ("ann-2", "road", "polygon"),
    ]
    assert got[0]["bounding_box"] == BOX["bounding_box"]
    assert got[1]["polygon"]["paths"] == POLYGON["polygon"]["paths"]
    # what `get --json` prints can be saved back unchanged
    anns.write_text(json.dumps(got))
    assert (
        cli.ok("annotations", "save", image_id, "--file", str(anns), "--json").json()["new_count"]
        == 2
    )
    assert "ann-1" in cli.ok("annotations", "get", image_id).stdout

    out = tmp_path / "dump"
    report = cli.ok(
        "datasets", "download", unique_name, "-o", str(out), "--workers", "2", "--json"
    ).json()
    assert report["images_downloaded"] == 3 and report["failures"] == []
    assert (out / "a.png").read_bytes() == (image_folder / "a.png").read_bytes()
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert any(name.endswith("c.png") for name in files), files
    annotation_file = next(p for p in out.rglob("a.png.json"))
    written = json.loads(annotation_file.read_text())
    listed = written if isinstance(written, list) else written["annotations"]
    assert {a["id"] for a in listed} == {"ann-1", "ann-2"}

    single = tmp_path / "single.png"
    done = cli.ok("images", "download", image_id, "-o", str(single), "--json").json()
    assert (
        single.read_bytes() == (image_folder / "a.png").read_bytes()
        and done["bytes"] == single.stat().st_size
    )

    cleared = cli.ok("annotations", "delete", image_id, "--yes", "--json").json()
    assert cleared["deleted_count"] == 2
    assert cli.ok("annotations", "get", image_id, "--json").json() == []

    cli.ok("images", "delete", image_id, "--yes")
    assert cli.ok("datasets", "get", unique_name, "--json").json()["image_count"] == 2


def test_upload_single_files_into_a_folder(cli: Cli, unique_name: str, tmp_path: Path) -> None:
    create_dataset(cli, unique_name)
    first = write_png(tmp_path / "x.png")
    second = write_png(tmp_path / "y.png", (3, 3))
    result = cli.ok(
        "images",
        "upload",
        str(first),
        str(second),
        "--dataset",
        unique_name,
        "--folder",
        "/cars",
        "--json",
    ).json()
    assert result["images_uploaded"] == 2
    assert {image["virtual_folder_path"] for image in result["images"]} == {"/cars"}
    assert {image["filename"] for image in result["images"]} == {"x.png", "y.png"}

    # The same file again conflicts: reported per file, exit 1, the rest of the output intact.
    conflict = cli(
        "images", "upload", str(first), "--dataset", unique_name, "--folder", "/cars", "--json"
    )
    assert conflict.returncode == 1, conflict.describe()
    body = json.loads(conflict.stdout)
    assert body["images_uploaded"] == 0 and body["failures"][0]["path"] == str(first)


def test_upload_to_missing_dataset(cli: Cli, unique_name: str, tmp_path: Path) -> None:
    result = cli("images", "upload", str(write_png(tmp_path / "x.png")), "--dataset", unique_name)
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: ") and unique_name in result.stderr


def test_list_shows_created_datasets(cli: Cli, unique_name: str) -> None:
    create_dataset(cli, unique_name)
    listed = cli.ok("datasets", "list", "--json").json()
    assert unique_name in {item["name"] for item in listed}
    table = cli.ok("datasets", "list")
    assert unique_name in table.stdout


def test_missing_dataset_is_an_api_error(cli: Cli, unique_name: str) -> None:
    result = cli("datasets", "get", unique_name)
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: "), result.describe()
    assert unique_name in result.stderr
    assert result.stdout == ""


def test_duplicate_name_is_an_api_error(cli: Cli, unique_name: str) -> None:
    create_dataset(cli, unique_name)
    result = cli("datasets", "create", unique_name)
    assert result.returncode == 1 and result.stderr.startswith("error: "), result.describe()


def test_delete_asks_first(cli: Cli, unique_name: str) -> None:
    create_dataset(cli, unique_name)
    declined = cli("datasets", "delete", unique_name, input="n\n")
    assert declined.returncode == 1, declined.describe()
    assert "Permanently delete" in declined.stderr
    cli.ok("datasets", "get", unique_name)

    cli.ok("datasets", "delete", unique_name, input="y\n")
    assert cli("datasets", "get", unique_name).returncode == 1


def test_delete_with_yes(cli: Cli, unique_name: str) -> None:
    create_dataset(cli, unique_name)
    deleted = cli.ok("datasets", "delete", unique_name, "--yes", "--json").json()
    assert deleted["name"] == unique_name and deleted["deleted"] is True
    assert cli("datasets", "get", unique_name).returncode == 1


def test_server_side_annotation_errors_print_their_location(
    cli: Cli, unique_name: str, image_folder: Path, tmp_path: Path
) -> None:
    create_dataset(cli, unique_name)
    cli.ok("images", "upload", str(image_folder / "a.png"), "--dataset", unique_name)
    dataset = cli.ok("datasets", "get", unique_name, "--include-images", "--json").json()
    image_id = dataset["images"][0]["id"]
    anns = tmp_path / "anns.json"
    anns.write_text(json.dumps([BOX, {**BOX, "id": "ann-9", "name": "bicycle"}]))
    result = cli("annotations", "save", image_id, "--file", str(anns))
    assert result.returncode == 1, result.describe()
    assert result.stderr.startswith("error: ") and "bicycle" in result.stderr
    assert "annotations[1]" in result.stderr, result.describe()
    assert cli.ok("annotations", "get", image_id, "--json").json() == [], "nothing half-written"


def test_unknown_image_is_an_api_error(cli: Cli, tmp_path: Path) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for command in (
        ["annotations", "get", missing],
        ["images", "download", missing, "-o", str(tmp_path / "x.png")],
        ["images", "delete", missing, "--yes"],
    ):
        result = cli(*command)
        assert result.returncode == 1, result.describe()
        assert result.stderr.startswith("error: "), result.describe()
    assert not (tmp_path / "x.png").exists()
