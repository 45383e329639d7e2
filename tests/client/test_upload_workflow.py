"""upload_dataset_from_folder against the live server, on a real folder tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from pictograph import Client
from pictograph.exceptions import NotFoundError
from pictograph.workflows import UploadReport, upload_dataset_from_folder
from tests.client.conftest import write_image


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """./stop/{001.jpg,002.PNG}, ./stop/night/005.jpg, ./yield/003.webp, ./004.jpg, plus files to ignore."""
    root = tmp_path / "road_signs"
    write_image(root / "stop" / "001.jpg", seed=1)
    write_image(root / "stop" / "002.PNG", seed=2)
    write_image(root / "stop" / "night" / "005.jpg", seed=5)
    write_image(root / "yield" / "003.webp", seed=3)
    write_image(root / "004.jpg", seed=4)
    (root / "README.txt").write_text("not an image")
    write_image(root / ".hidden" / "006.jpg", seed=6)
    return root


def folder_contents(client: Client, name: str) -> set[tuple[str | None, str]]:
    dataset = client.datasets.get(name, include_images=True)
    return {(i.virtual_folder_path, i.filename) for i in dataset.images or []}


def cleanup(client: Client, name: str) -> None:
    try:
        client.projects.delete(name)
    except NotFoundError:
        pass


def test_upload_creates_dataset_maps_folders_and_reruns_skip(
    client: Client, tree: Path, unique_name: str
) -> None:
    calls: list[tuple[int, int, str | None]] = []
    try:
        report = upload_dataset_from_folder(
            client,
            unique_name,
            tree,
            progress=lambda done, total, name: calls.append((done, total, name)),
        )
        assert isinstance(report, UploadReport)
        assert (report.images_attempted, report.images_uploaded, report.images_skipped) == (5, 5, 0)
        assert report.failures == [] and report.success and report.dataset_name == unique_name
        assert folder_contents(client, unique_name) == {
            ("/stop", "001.jpg"),
            ("/stop", "002.PNG"),
            ("/stop", "005.jpg"),
            ("/yield", "003.webp"),
            ("/", "004.jpg"),
        }
        assert [c[0] for c in calls] == [1, 2, 3, 4, 5] and {c[1] for c in calls} == {5}
        assert sorted(c[2] for c in calls) == sorted(
            ["stop/001.jpg", "stop/002.PNG", "stop/night/005.jpg", "yield/003.webp", "004.jpg"]
        )

        again = upload_dataset_from_folder(client, unique_name, tree, parallel=False)
        assert (again.images_attempted, again.images_uploaded, again.images_skipped) == (5, 0, 5)
        assert again.failures == [] and not again.success
        assert client.datasets.get(unique_name).image_count == 5
    finally:
        cleanup(client, unique_name)


def test_conflicts_fail_when_not_skipping(client: Client, tree: Path, unique_name: str) -> None:
    try:
        upload_dataset_from_folder(client, unique_name, tree, max_workers=2)
        report = upload_dataset_from_folder(client, unique_name, tree, skip_existing=False)
        assert (report.images_uploaded, report.images_skipped, len(report.failures)) == (0, 0, 5)
        assert all(f.reason for f in report.failures)
    finally:
        cleanup(client, unique_name)


def test_flat_layout_and_corrupt_file(client: Client, tmp_path: Path, unique_name: str) -> None:
    root = tmp_path / "flat"
    write_image(root / "a" / "good.png", seed=1)
    (root / "b").mkdir(parents=True)
    (root / "b" / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    calls: list[int] = []
    try:
        report = upload_dataset_from_folder(
            client,
            unique_name,
            root,
            organize_by_class=False,
            progress=lambda done, total, name: calls.append(done),
        )
        assert (report.images_attempted, report.images_uploaded, report.images_skipped) == (2, 1, 0)
        assert len(report.failures) == 1 and not report.success
        assert report.failures[0].path.endswith("broken.jpg") and report.failures[0].reason
        assert calls == [1, 2]
        assert folder_contents(client, unique_name) == {("/", "good.png")}
    finally:
        cleanup(client, unique_name)


def test_existing_dataset_and_missing_dataset(client: Client, tree: Path, unique_name: str) -> None:
    with pytest.raises(NotFoundError):
        upload_dataset_from_folder(client, unique_name, tree, create_if_missing=False)
    client.projects.create(unique_name)
    try:
        report = upload_dataset_from_folder(
            client, unique_name, tree, create_if_missing=False, parallel=False
        )
        assert report.images_uploaded == 5
    finally:
        cleanup(client, unique_name)


def test_missing_folder_and_empty_folder(client: Client, tmp_path: Path, unique_name: str) -> None:
    with pytest.raises(FileNotFoundError):
        upload_dataset_from_folder(client, unique_name, tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError):
        upload_dataset_from_folder(client, unique_name, tmp_path / "file.jpg")
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        report = upload_dataset_from_folder(client, unique_name, empty)
        assert (report.images_attempted, report.images_uploaded, report.failures) == (0, 0, [])
        assert not report.success
    finally:
        cleanup(client, unique_name)
