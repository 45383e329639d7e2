"""client.images against the live server: the three-step upload, metadata, download, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from pictograph import Client
from pictograph.exceptions import ConflictError, NotFoundError, ValidationError
from pictograph.models.project import Project
from tests.client.conftest import ImageFactory


def test_upload_get_download_is_byte_identical(
    client: Client, project: Project, make_image: ImageFactory, tmp_path: Path
) -> None:
    source = make_image("cat.png", size=(80, 60))
    image = client.images.upload(project.id, source, folder_path="/cars")
    assert image.filename == "cat.png"
    assert (image.width, image.height) == (80, 60)
    assert image.virtual_folder_path == "/cars"
    assert image.file_size == source.stat().st_size

    fetched = client.images.get(image.id)
    assert fetched.id == image.id and fetched.filename == "cat.png"

    target = client.images.download(image.id, tmp_path / "out" / "cat-copy.png")
    assert target.read_bytes() == source.read_bytes()
    assert not list(target.parent.glob("*.part"))


def test_jpeg_upload_keeps_its_bytes(
    client: Client, project: Project, make_image: ImageFactory, tmp_path: Path
) -> None:
    source = make_image("road.JPG")
    image = client.images.upload(project.id, source)
    assert image.virtual_folder_path in ("/", None)
    assert (
        client.images.download(image.id, tmp_path / "road.jpg").read_bytes() == source.read_bytes()
    )


def test_unsupported_extension_is_refused_before_any_request(
    client: Client, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    # A dataset id that does not exist: any request would have answered 404 instead.
    with pytest.raises(ValidationError) as caught:
        client.images.upload("00000000-0000-0000-0000-000000000000", notes)
    assert caught.value.status_code is None
    assert caught.value.errors


def test_corrupt_image_is_refused(client: Client, project: Project, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a jpeg at all")
    with pytest.raises(ValidationError):
        client.images.upload(project.id, broken)


def test_same_name_in_same_folder_conflicts(
    client: Client, project: Project, make_image: ImageFactory
) -> None:
    source = make_image("dup.png")
    client.images.upload(project.id, source, folder_path="/a")
    with pytest.raises(ConflictError):
        client.images.upload(project.id, source, folder_path="/a")
    other = client.images.upload(project.id, source, folder_path="/b")
    assert other.virtual_folder_path == "/b"


def test_explicit_idempotency_key_does_not_upload_twice(
    client: Client, project: Project, make_image: ImageFactory
) -> None:
    source = make_image("once.png")
    first = client.images.upload(project.id, source, idempotency_key="upload-once-png")
    again = client.images.upload(project.id, source, idempotency_key="upload-once-png")
    assert again.id == first.id


def test_missing_image_is_not_found(client: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        client.images.get("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        client.images.download("00000000-0000-0000-0000-000000000000", tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_delete_archives_then_permanent_delete_removes(
    client: Client, project: Project, make_image: ImageFactory
) -> None:
    image = client.images.upload(project.id, make_image("gone.png"))
    client.images.delete(image.id)
    assert client.images.get(image.id).is_archived is True
    client.images.delete(image.id, permanent=True)
    with pytest.raises(NotFoundError):
        client.images.get(image.id)
