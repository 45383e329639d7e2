"""client.annotations against the live server: every annotation type round-trips exactly."""

from __future__ import annotations

import pytest

from pictograph import (
    BBoxAnnotation,
    BoundingBox,
    Client,
    KeypointAnnotation,
    Point,
    PolygonAnnotation,
    PolygonGeometry,
    PolylineAnnotation,
    PolylineGeometry,
)
from pictograph.exceptions import NotFoundError, ValidationError
from pictograph.models.image import Image
from pictograph.models.project import Project
from tests.client.conftest import ImageFactory

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture()
def image(client: Client, project: Project, make_image: ImageFactory) -> Image:
    return client.images.upload(project.id, make_image("scene.png", size=(200, 150)))


def every_type() -> list:
    return [
        BBoxAnnotation(id="a-1", name="car", bounding_box=BoundingBox(x=10, y=20, w=30, h=40)),
        PolygonAnnotation(
            id="a-2",
            name="road",
            polygon=PolygonGeometry(
                paths=[
                    [Point(x=0, y=0), Point(x=100, y=0), Point(x=100, y=100), Point(x=0, y=100)],
                    [Point(x=30, y=30), Point(x=70, y=30), Point(x=70, y=70)],
                ]
            ),
            bounding_box=BoundingBox(x=0, y=0, w=100, h=100),
        ),
        PolylineAnnotation(
            id="a-3",
            name="lane",
            polyline=PolylineGeometry(
                path=[Point(x=0, y=100), Point(x=50, y=110.5), Point(x=100, y=100)]
            ),
            bounding_box=BoundingBox(x=0, y=100, w=100, h=10.5),
        ),
        KeypointAnnotation(id="a-4", name="eye", keypoint=Point(x=25.5, y=18), confidence=0.5),
    ]


def without_creator(annotations: list) -> list:
    """The server records who saved each annotation; compare everything else."""
    return [a.model_copy(update={"created_by": None}) for a in annotations]


def test_new_image_has_no_annotations(client: Client, image: Image) -> None:
    assert client.annotations.get(image.id) == []


def test_save_and_get_round_trip_every_type(client: Client, image: Image) -> None:
    saved = every_type()
    result = client.annotations.save(image.id, saved)
    assert (result.image_id, result.previous_count, result.new_count) == (image.id, 0, 4)
    assert result.status
    fetched = client.annotations.get(image.id)
    assert without_creator(fetched) == saved
    assert all(a.created_by for a in fetched)
    assert client.images.get(image.id).annotation_count == 4


def test_save_is_a_full_overwrite(client: Client, image: Image) -> None:
    client.annotations.save(image.id, every_type())
    replacement = [
        BBoxAnnotation(id="only", name="car", bounding_box=BoundingBox(x=1, y=1, w=2, h=2))
    ]
    result = client.annotations.save(image.id, replacement)
    assert (result.previous_count, result.new_count) == (4, 1)
    assert without_creator(client.annotations.get(image.id)) == replacement


def test_dicts_are_accepted_and_validated(client: Client, image: Image) -> None:
    result = client.annotations.save(
        image.id,
        [{"id": "d-1", "name": "eye", "type": "keypoint", "keypoint": {"x": 3, "y": 4}}],
    )
    assert result.new_count == 1
    (saved,) = client.annotations.get(image.id)
    assert isinstance(saved, KeypointAnnotation) and saved.keypoint == Point(x=3, y=4)


def test_polygon_without_bounding_box_gets_one(client: Client, image: Image) -> None:
    polygon = PolygonAnnotation(
        id="p",
        name="road",
        polygon=PolygonGeometry(paths=[[Point(x=5, y=5), Point(x=25, y=5), Point(x=25, y=15)]]),
    )
    client.annotations.save(image.id, [polygon])
    (saved,) = client.annotations.get(image.id)
    assert saved.bounding_box == BoundingBox(x=5, y=5, w=20, h=10)


def test_class_instead_of_name_fails_before_sending(client: Client) -> None:
    # The image does not exist: had anything been sent, the server would answer 404.
    with pytest.raises(ValidationError) as caught:
        client.annotations.save(
            MISSING,
            [{"class": "person", "type": "bbox", "bounding_box": {"x": 1, "y": 1, "w": 2, "h": 2}}],
        )
    assert caught.value.status_code is None
    locations = [tuple(e["loc"]) for e in caught.value.errors]
    assert ("annotations", 0, "bbox", "name") in locations or (
        "annotations",
        0,
        "name",
    ) in locations
    assert any("class" in map(str, e["loc"]) for e in caught.value.errors)


def test_flat_polygon_fails_before_sending(client: Client) -> None:
    with pytest.raises(ValidationError):
        client.annotations.save(
            MISSING, [{"name": "road", "type": "polygon", "polygon": [[10, 20, 30, 40]]}]
        )


def test_unknown_class_is_rejected_by_the_server(client: Client, image: Image) -> None:
    with pytest.raises(ValidationError) as caught:
        client.annotations.save(
            image.id, [BBoxAnnotation(name="unicorn", bounding_box=BoundingBox(x=1, y=1, w=2, h=2))]
        )
    assert caught.value.status_code in (400, 422)
    assert client.annotations.get(image.id) == []


def test_delete_clears_and_counts(client: Client, image: Image) -> None:
    client.annotations.save(image.id, every_type())
    result = client.annotations.delete(image.id)
    assert (result.image_id, result.deleted_count) == (image.id, 4)
    assert client.annotations.get(image.id) == []


def test_missing_image_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.annotations.get(MISSING)
    with pytest.raises(NotFoundError):
        client.annotations.save(MISSING, [])
