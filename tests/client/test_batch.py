"""client.batch against the live server: bulk move / copy / delete / update with per-item failures."""

from __future__ import annotations

import pytest

from pictograph import BBoxAnnotation, BoundingBox, Client
from pictograph.exceptions import NotFoundError, ValidationError
from pictograph.models.image import Image
from pictograph.models.project import Project
from tests.client.conftest import ImageFactory

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def images(client: Client, project: Project, make_image: ImageFactory) -> list[Image]:
    return [client.images.upload(project.id, make_image(f"b{i}.png")) for i in range(3)]


def test_move(client: Client, project: Project, images: list[Image]) -> None:
    ids = [i.id for i in images[:2]]
    result = client.batch.move(project.name, ids, target_folder_path="/sorted/cars")
    assert result.success and sorted(result.succeeded) == sorted(ids)
    assert (result.failed_count, result.failures) == (0, [])
    assert {client.images.get(i).virtual_folder_path for i in ids} == {"/sorted/cars"}
    assert client.images.get(images[2].id).virtual_folder_path == "/"


def test_partial_failure_is_reported_not_raised(
    client: Client, project: Project, images: list[Image]
) -> None:
    result = client.batch.move(project.name, [images[0].id, MISSING], target_folder_path="/x")
    assert not result.success
    assert result.succeeded == [images[0].id]
    assert result.failed_count == 1
    assert result.failures[0].image_id == MISSING and result.failures[0].reason


def test_copy_with_and_without_annotations(
    client: Client, project: Project, images: list[Image]
) -> None:
    source = images[0]
    client.annotations.save(
        source.id, [BBoxAnnotation(name="car", bounding_box=BoundingBox(x=1, y=1, w=4, h=4))]
    )
    plain = client.batch.copy(project.name, [source.id], target_folder_path="/copies")
    assert plain.success and len(plain.succeeded) == 1
    with_annotations = client.batch.copy(
        project.name, [source.id], target_folder_path="/copies", copy_annotations=True
    )
    assert with_annotations.success
    dataset = client.datasets.get(project.name, include_images=True)
    copies = [i for i in dataset.images or [] if i.virtual_folder_path == "/copies"]
    assert len(copies) == 2 and len({i.filename for i in copies}) == 2  # the second was renamed
    counts = sorted(len(client.annotations.get(i.id)) for i in copies)
    assert counts == [0, 1]


def test_delete_archives_and_update_restores(
    client: Client, project: Project, images: list[Image]
) -> None:
    ids = [i.id for i in images]
    assert client.batch.delete(project.name, ids).success
    assert all(client.images.get(i).is_archived for i in ids)
    restored = client.batch.update(
        project.name, ids, is_archived=False, status="review", display_name="shown"
    )
    assert restored.success and sorted(restored.succeeded) == sorted(ids)
    after = client.images.get(ids[0])
    assert (after.is_archived, after.status) == (False, "review")


def test_permanent_delete(client: Client, project: Project, images: list[Image]) -> None:
    result = client.batch.delete(project.name, [images[0].id], permanent=True)
    assert result.success
    with pytest.raises(NotFoundError):
        client.images.get(images[0].id)


def test_update_needs_a_field_and_a_valid_status(
    client: Client, project: Project, images: list[Image]
) -> None:
    with pytest.raises(ValidationError):
        client.batch.update(project.name, [images[0].id])
    with pytest.raises(ValidationError):
        client.batch.update(project.name, [images[0].id], status="finished")


def test_unknown_dataset_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.batch.move("no-such-dataset-anywhere", [MISSING], target_folder_path="/x")
