"""Annotations over HTTP: full-overwrite save, validation in the documented words, status rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import LiveServer
from tests.server.helpers import API, add_key, developer_http, new_dataset, upload

CLASSES = [{"name": "car", "type": "bbox"}, {"name": "person", "type": "polygon"},
           {"name": "lane", "type": "polyline"}, {"name": "eye", "type": "keypoint"}]  # fmt: skip

BBOX = {
    "id": "a1",
    "name": "car",
    "type": "bbox",
    "bounding_box": {"x": 1, "y": 2, "w": 10, "h": 5},
}
POLYGON = {"id": "a2", "name": "person", "type": "polygon",
           "polygon": {"paths": [[{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 8}, {"x": 2, "y": 8}],
                                 [{"x": 4, "y": 2}, {"x": 6, "y": 2}, {"x": 6, "y": 4}]]}}  # fmt: skip
POLYLINE = {"id": "a3", "name": "lane", "type": "polyline",
            "polyline": {"path": [{"x": 0, "y": 20}, {"x": 15, "y": 25}, {"x": 30, "y": 22}]}}  # fmt: skip
KEYPOINT = {
    "id": "a4",
    "name": "eye",
    "type": "keypoint",
    "keypoint": {"x": 3, "y": 4},
    "confidence": 0.5,
}


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(owner: httpx.Client) -> dict:
    return new_dataset(owner, classes=CLASSES)


@pytest.fixture()
def image(owner: httpx.Client, dataset: dict) -> dict:
    return upload(owner, dataset["id"])


def save(client: httpx.Client, image_id: str, annotations: list) -> httpx.Response:  # type: ignore[type-arg]
    return client.post(
        f"/annotations/{image_id}", json={"image_id": image_id, "annotations": annotations}
    )


# ───────────── happy path ─────────────


def test_save_and_get_every_type(owner: httpx.Client, image: dict) -> None:
    assert owner.get(f"/annotations/{image['id']}").json() == {
        "image_id": image["id"], "annotations": [], "annotation_count": 0, "status": "new",
    }  # fmt: skip
    response = save(owner, image["id"], [BBOX, POLYGON, POLYLINE, KEYPOINT])
    assert response.status_code == 200, response.text
    assert response.json() | {"stage": None, "annotation_count": None} == {
        "image_id": image["id"], "previous_count": 0, "new_count": 4, "status": "complete",
        "stage": None, "annotation_count": None,
    }  # fmt: skip

    got = owner.get(f"/annotations/{image['id']}").json()
    assert got["annotation_count"] == 4 and got["status"] == "complete"
    by_id = {a["id"]: a for a in got["annotations"]}
    assert by_id["a1"]["bounding_box"] == {"x": 1.0, "y": 2.0, "w": 10.0, "h": 5.0}
    # Polygon and polyline boxes are computed from the geometry (outer ring only).
    assert by_id["a2"]["bounding_box"] == {"x": 0.0, "y": 0.0, "w": 10.0, "h": 8.0}
    assert by_id["a3"]["bounding_box"] == {"x": 0.0, "y": 20.0, "w": 30.0, "h": 5.0}
    assert len(by_id["a2"]["polygon"]["paths"]) == 2
    assert by_id["a4"]["confidence"] == 0.5 and by_id["a1"]["confidence"] == 1.0
    assert all(a["created_by"] for a in got["annotations"]), "the backend fills created_by"
    assert [a["id"] for a in got["annotations"]] == ["a1", "a2", "a3", "a4"]

    meta = owner.get(f"/images/{image['id']}/metadata").json()["image"]
    assert meta["annotation_count"] == 4 and meta["status"] == "complete"
    assert meta["annotation_url"] == f"{API}/annotations/{image['id']}/file"
    document = owner.get(f"/annotations/{image['id']}/file").json()
    assert (
        document["annotations"] == got["annotations"]
        and document["image"]["filename"] == image["filename"]
    )


def test_save_is_a_full_overwrite_and_empty_resets_to_new(owner: httpx.Client, image: dict) -> None:
    save(owner, image["id"], [BBOX, KEYPOINT])
    response = save(owner, image["id"], [POLYGON])
    assert (response.json()["previous_count"], response.json()["new_count"]) == (2, 1)
    assert [a["id"] for a in owner.get(f"/annotations/{image['id']}").json()["annotations"]] == [
        "a2"
    ]
    cleared = save(owner, image["id"], [])
    assert cleared.json() | {"stage": 0, "annotation_count": 0} == {
        "image_id": image["id"], "previous_count": 1, "new_count": 0, "status": "new", "stage": 0, "annotation_count": 0,
    }  # fmt: skip
    meta = owner.get(f"/images/{image['id']}/metadata").json()["image"]
    assert meta["status"] == "new" and meta["annotation_url"] is None


def test_ids_are_generated_when_omitted(owner: httpx.Client, image: dict) -> None:
    body = {k: v for k, v in BBOX.items() if k != "id"}
    assert save(owner, image["id"], [body, body]).status_code == 200
    ids = [a["id"] for a in owner.get(f"/annotations/{image['id']}").json()["annotations"]]
    assert len(set(ids)) == 2 and all(len(i) == 36 for i in ids)


def test_save_with_image_id_in_body_only(owner: httpx.Client, image: dict) -> None:
    response = owner.post("/annotations/", json={"image_id": image["id"], "annotations": [BBOX]})
    assert response.status_code == 200 and response.json()["new_count"] == 1
    assert owner.post("/annotations/", json={"annotations": [BBOX]}).status_code == 422


def test_body_image_id_must_match(owner: httpx.Client, image: dict) -> None:
    response = owner.post(
        f"/annotations/{image['id']}", json={"image_id": str(uuid.uuid4()), "annotations": []}
    )
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["image_id"]


# ───────────── validation ─────────────


def _locs(response: httpx.Response) -> list[list]:  # type: ignore[type-arg]
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "validation_error" and body["detail"]
    return [e["loc"] for e in body["errors"]]


def test_class_instead_of_name_is_422(owner: httpx.Client, image: dict) -> None:
    bad = {
        "id": "x",
        "class": "car",
        "type": "bbox",
        "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1},
    }
    response = save(owner, image["id"], [BBOX | {"id": "ok"}, bad])
    locs = _locs(response)
    assert ["annotations", 1, "bbox", "class"] in locs and [
        "annotations",
        1,
        "bbox",
        "name",
    ] in locs
    assert "'name'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("annotation", "loc_prefix"),
    [
        ({"id": "p", "name": "person", "type": "polygon", "polygon": [[10, 20, 30, 40]]}, ["annotations", 0, "polygon", "polygon"]),
        ({"id": "p", "name": "person", "type": "polygon", "polygon": {"paths": [[10, 20, 30, 40, 50, 60]]}}, ["annotations", 0, "polygon", "polygon", "paths"]),
        ({"id": "p", "name": "person", "type": "polygon", "polygon": {"paths": [[{"x": 0, "y": 0}, {"x": 1, "y": 1}]]}}, ["annotations", 0, "polygon", "polygon", "paths"]),
        ({"id": "p", "name": "person", "type": "polygon", "polygon": {"paths": []}}, ["annotations", 0, "polygon", "polygon", "paths"]),
        ({"id": "l", "name": "lane", "type": "polyline", "polyline": {"path": [{"x": 0, "y": 0}]}}, ["annotations", 0, "polyline", "polyline", "path"]),
        ({"id": "b", "name": "car", "type": "bbox", "bbox": [0, 0, 5, 5]}, ["annotations", 0, "bbox"]),
        ({"id": "b", "name": "car", "type": "bbox", "bounding_box": [0, 0, 5, 5]}, ["annotations", 0, "bbox", "bounding_box"]),
        ({"id": "b", "name": "car", "type": "bbox", "bounding_box": {"x": 0, "y": 0, "w": 0, "h": 5}}, ["annotations", 0, "bbox", "bounding_box", "w"]),
        ({"id": "b", "name": "car", "type": "circle", "center": {"x": 0, "y": 0}}, ["annotations", 0]),
        ({"id": "b", "name": "car", "bounding_box": {"x": 0, "y": 0, "w": 1, "h": 1}}, ["annotations", 0]),
        ({"id": "b", "name": "   ", "type": "keypoint", "keypoint": {"x": 0, "y": 0}}, ["annotations", 0, "keypoint", "name"]),
        ({"id": "b", "name": "eye", "type": "keypoint", "keypoint": {"x": 0, "y": 0}, "confidence": 2}, ["annotations", 0, "keypoint", "confidence"]),
        ("not an object", ["annotations", 0]),
    ],
)  # fmt: skip
def test_malformed_annotations_are_422_at_the_item(
    owner: httpx.Client, image: dict, annotation: object, loc_prefix: list
) -> None:  # type: ignore[type-arg]
    locs = _locs(save(owner, image["id"], [annotation]))
    assert any(loc[: len(loc_prefix)] == loc_prefix for loc in locs), locs


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'[{"id": "a\\u0000b", "name": "eye", "type": "keypoint", "keypoint": {"x": 1, "y": 1}}]', ["annotations", 0, "id"]),
        (b'[{"name": "eye", "type": "keypoint", "keypoint": {"x": 1, "y": 1}, "attributes": [{"k": "\\u0000"}]}]', ["annotations", 0, "attributes", 0, "k"]),
        (b'[{"name": "eye", "type": "keypoint", "keypoint": {"x": NaN, "y": 1}}]', ["annotations", 0, "keypoint", "x"]),
        (b'[{"name": "car", "type": "bbox", "bounding_box": {"x": 0, "y": 0, "w": Infinity, "h": 1}}]', ["annotations", 0, "bounding_box", "w"]),
        (b'[{"name": "eye", "type": "keypoint", "keypoint": {"x": 1, "y": 1}, "attributes": ' + b"[" * 40 + b"]" * 40 + b"}]", None),
    ],
)  # fmt: skip
def test_unstorable_json_is_422_not_500(
    owner: httpx.Client, image: dict, raw: bytes, loc: list | None
) -> None:  # type: ignore[type-arg]
    body = b'{"annotations": ' + raw + b"}"
    response = owner.post(
        f"/annotations/{image['id']}", content=body, headers={"Content-Type": "application/json"}
    )
    locs = _locs(response)
    if loc is not None:
        assert loc in locs
    assert owner.get(f"/annotations/{image['id']}").json()["annotations"] == []


def test_annotations_must_be_a_list(owner: httpx.Client, image: dict) -> None:
    assert _locs(owner.post(f"/annotations/{image['id']}", json={"annotations": {"a": 1}}))[0] == [
        "annotations"
    ]
    assert _locs(owner.post(f"/annotations/{image['id']}", json={}))[0] == ["annotations"]


def test_unknown_class_is_422_and_stores_nothing(owner: httpx.Client, image: dict) -> None:
    save(owner, image["id"], [BBOX])
    response = save(
        owner,
        image["id"],
        [
            BBOX | {"id": "k"},
            BBOX | {"id": "u", "name": "truck"},
            BBOX | {"id": "v", "name": "Car"},
        ],
    )
    locs = _locs(response)
    assert ["annotations", 1, "name"] in locs and ["annotations", 2, "name"] in locs
    assert ["annotations", 0, "name"] not in locs
    assert "'truck'" in response.json()["detail"] and "'Car'" in response.json()["detail"]
    assert [a["id"] for a in owner.get(f"/annotations/{image['id']}").json()["annotations"]] == [
        "a1"
    ]


def test_duplicate_ids_are_422(owner: httpx.Client, image: dict) -> None:
    assert ["annotations", 1, "id"] in _locs(
        save(owner, image["id"], [BBOX, KEYPOINT | {"id": "a1"}])
    )


# ───────────── delete, roles, isolation ─────────────


def test_delete_needs_admin(live_server: LiveServer, owner: httpx.Client, image: dict) -> None:
    save(owner, image["id"], [BBOX, KEYPOINT])
    with developer_http(live_server, add_key(live_server, "member")) as member:
        assert member.delete(f"/annotations/{image['id']}").status_code == 403
        # …but a member may clear by saving an empty list.
        assert save(member, image["id"], [BBOX]).status_code == 200
    with developer_http(live_server, add_key(live_server, "admin")) as admin:
        response = admin.delete(f"/annotations/{image['id']}")
    assert response.status_code == 200
    assert response.json()["image_id"] == image["id"] and response.json()["deleted_count"] == 1
    assert owner.get(f"/annotations/{image['id']}").json()["annotations"] == []
    assert owner.get(f"/images/{image['id']}/metadata").json()["image"]["status"] == "new"


def test_viewer_reads_but_cannot_save(
    live_server: LiveServer, owner: httpx.Client, image: dict
) -> None:
    save(owner, image["id"], [BBOX])
    with developer_http(live_server, add_key(live_server, "viewer")) as viewer:
        assert viewer.get(f"/annotations/{image['id']}").json()["annotation_count"] == 1
        assert save(viewer, image["id"], []).status_code == 403
        assert viewer.delete(f"/annotations/{image['id']}").status_code == 403


def test_unknown_and_foreign_images_are_404(
    live_server: LiveServer, owner: httpx.Client, image: dict
) -> None:
    missing = str(uuid.uuid4())
    assert owner.get(f"/annotations/{missing}").status_code == 404
    assert save(owner, missing, []).status_code == 404
    assert owner.delete(f"/annotations/{missing}").status_code == 404
    save(owner, image["id"], [BBOX])
    with developer_http(live_server, add_key(live_server, "owner", new_org=True)) as other:
        assert other.get(f"/annotations/{image['id']}").status_code == 404
        assert other.get(f"/annotations/{image['id']}/file").status_code == 404
        assert save(other, image["id"], []).status_code == 404
        assert other.delete(f"/annotations/{image['id']}").status_code == 404
    assert owner.get(f"/annotations/{image['id']}").json()["annotation_count"] == 1


def test_stage_set_by_batch_reads_as_in_progress_in_downloads(
    owner: httpx.Client, dataset: dict, image: dict
) -> None:
    save(owner, image["id"], [BBOX])
    response = owner.patch("/batch/images/update", json={
        "dataset_name": dataset["name"], "image_ids": [image["id"]], "updates": {"status": "review"},
    })  # fmt: skip
    assert response.status_code == 200, response.text
    assert owner.get(f"/annotations/{image['id']}").json()["status"] == "review"
    listing = owner.get(
        f"/datasets/by-name/{dataset['name']}/download", params={"status_filter": "in_progress"}
    )
    assert image["id"] in [item["image_id"] for item in listing.json()["items"]]
    # Saving again sets the stage from the count.
    assert save(owner, image["id"], [BBOX]).json()["status"] == "complete"
