"""Batch move / copy / delete / update over HTTP, with per-image failures in both documented shapes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import LiveServer
from tests.server.helpers import add_key, developer_http, image_bytes, new_dataset, upload

BATCH = "/batch/images"


def meta(client: httpx.Client, image_id: str) -> dict:
    return client.get(f"/images/{image_id}/metadata").json()["image"]


def check_shape(body: dict) -> None:
    """Both the published BatchResult and the Batch page's fields, consistent with each other."""
    assert {
        "success",
        "processed",
        "failed",
        "affected_folders",
        "succeeded",
        "failed_count",
        "failures",
    } <= set(body)
    assert body["processed"] == len(body["succeeded"])
    assert body["failed_count"] == len(body["failed"]) == len(body["failures"])
    assert body["success"] is (body["failed_count"] == 0)
    for a, b in zip(body["failed"], body["failures"]):
        assert a["id"] == b["image_id"] and a["reason"] == b["reason"]


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        yield client


@pytest.fixture()
def dataset(owner: httpx.Client) -> dict:
    return new_dataset(owner, classes=[{"name": "car"}])


# ───────────── move ─────────────


def test_move(owner: httpx.Client, dataset: dict) -> None:
    a = upload(owner, dataset["id"], "a.png", "/in")
    b = upload(owner, dataset["id"], "b.png", "/")
    missing = str(uuid.uuid4())
    response = owner.post(f"{BATCH}/move", json={
        "dataset_name": dataset["name"], "image_ids": [a["id"], b["id"], missing], "target_folder_path": "sorted/cars",
    })  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    check_shape(body)
    assert body["succeeded"] == [a["id"], b["id"]] and body["processed"] == 2
    assert body["failures"][0]["image_id"] == missing and body["success"] is False
    assert body["affected_folders"] == ["/", "/in", "/sorted/cars"]
    assert meta(owner, a["id"])["virtual_folder_path"] == "/sorted/cars"
    # Bytes do not move.
    assert owner.get(f"/images/{a['id']}").content == image_bytes()


def test_move_name_clash_is_a_per_image_failure(owner: httpx.Client, dataset: dict) -> None:
    here = upload(owner, dataset["id"], "same.png", "/target")
    there = upload(owner, dataset["id"], "same.png", "/source")
    other = upload(owner, dataset["id"], "other.png", "/source")
    body = owner.post(f"{BATCH}/move", json={
        "dataset_name": dataset["name"], "image_ids": [there["id"], other["id"], here["id"]], "target_folder_path": "/target",
    }).json()  # fmt: skip
    check_shape(body)
    assert body["succeeded"] == [other["id"], here["id"]]
    assert [f["id"] for f in body["failed"]] == [there["id"]] and "already exists" in body[
        "failed"
    ][0]["reason"]
    assert meta(owner, there["id"])["virtual_folder_path"] == "/source"


def test_404_when_dataset_missing_or_no_id_matches(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    image = upload(owner, dataset["id"], "x.png")
    body = {"image_ids": [image["id"]], "target_folder_path": "/a"}
    assert (
        owner.post(
            f"{BATCH}/move", json={"dataset_name": "no-such-dataset-" + uuid.uuid4().hex, **body}
        ).status_code
        == 404
    )
    other = owner.post("/projects/", json={"name": f"batch-{uuid.uuid4().hex[:8]}"}).json()[
        "project"
    ]
    # An image of another dataset is not in this one.
    assert (
        owner.post(f"{BATCH}/move", json={"dataset_name": other["name"], **body}).status_code == 404
    )
    for path, extra in (("copy", {}), ("delete", {})):
        r = owner.post(
            f"{BATCH}/{path}",
            json={"dataset_name": dataset["name"], "image_ids": [str(uuid.uuid4())], **extra},
        )
        assert r.status_code == 404
    r = owner.patch(
        f"{BATCH}/update",
        json={"dataset_name": dataset["name"], "image_ids": ["nope"], "updates": {"status": "new"}},
    )
    assert r.status_code == 404
    with developer_http(live_server, add_key(live_server, "owner", new_org=True)) as foreign:
        assert (
            foreign.post(
                f"{BATCH}/move", json={"dataset_name": dataset["name"], **body}
            ).status_code
            == 404
        )


def test_ten_thousand_ids_in_one_call(owner: httpx.Client, dataset: dict) -> None:
    image = upload(owner, dataset["id"], "one.png")
    ids = [image["id"], "bad\x00id"] + [str(uuid.uuid4()) for _ in range(9_998)]
    response = owner.post(
        f"{BATCH}/move",
        json={"dataset_name": dataset["name"], "image_ids": ids, "target_folder_path": "/big"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["succeeded"] == [image["id"]] and body["failed_count"] == 9_999


def test_image_ids_must_be_1_to_10000(owner: httpx.Client, dataset: dict) -> None:
    assert (
        owner.post(
            f"{BATCH}/move", json={"dataset_name": dataset["name"], "image_ids": []}
        ).status_code
        == 422
    )
    many = [str(i) for i in range(10_001)]
    assert (
        owner.post(
            f"{BATCH}/move", json={"dataset_name": dataset["name"], "image_ids": many}
        ).status_code
        == 422
    )
    bad_folder = owner.post(
        f"{BATCH}/move",
        json={"dataset_name": dataset["name"], "image_ids": ["x"], "target_folder_path": "/../x"},
    )
    assert bad_folder.status_code == 422


# ───────────── copy ─────────────


def test_copy_renames_and_starts_clean(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    source = upload(owner, dataset["id"], "car.png", "/")
    owner.post(f"/annotations/{source['id']}", json={"annotations": [
        {"name": "car", "type": "bbox", "bounding_box": {"x": 0, "y": 0, "w": 3, "h": 3}}]})  # fmt: skip
    request = {
        "dataset_name": dataset["name"],
        "image_ids": [source["id"]],
        "target_folder_path": "/",
    }
    first = owner.post(f"{BATCH}/copy", json=request).json()
    second = owner.post(f"{BATCH}/copy", json=request).json()
    check_shape(first)
    assert first["success"] and first["processed"] == 1 and first["affected_folders"] == ["/"]
    names = [meta(owner, r["created"][0]["image_id"])["filename"] for r in (first, second)]
    assert names == ["car-2.png", "car-3.png"]
    copy = meta(owner, first["created"][0]["image_id"])
    assert copy["annotation_count"] == 0 and copy["status"] == "new"
    assert (copy["width"], copy["height"], copy["file_size"]) == (
        source["width"],
        source["height"],
        source["file_size"],
    )
    assert owner.get(f"/images/{copy['id']}").content == image_bytes()
    # Each copy owns its bytes: deleting the source for good leaves the copy readable.
    assert owner.delete(f"/images/{source['id']}", params={"permanent": "true"}).status_code == 200
    assert owner.get(f"/images/{copy['id']}").content == image_bytes()


def test_copy_annotations_and_status(owner: httpx.Client, dataset: dict) -> None:
    source = upload(owner, dataset["id"], "annotated.png", "/src")
    owner.post(f"/annotations/{source['id']}", json={"annotations": [
        {"id": "k", "name": "car", "type": "bbox", "bounding_box": {"x": 0, "y": 0, "w": 3, "h": 3}}]})  # fmt: skip
    body = owner.post(f"{BATCH}/copy", json={
        "dataset_name": dataset["name"], "image_ids": [source["id"]], "target_folder_path": "/dst", "copy_annotations": True,
    }).json()  # fmt: skip
    copy = meta(owner, body["created"][0]["image_id"])
    assert copy["filename"] == "annotated.png" and copy["virtual_folder_path"] == "/dst"
    assert copy["annotation_count"] == 1 and copy["status"] == "complete"
    assert owner.get(f"/annotations/{copy['id']}").json()["annotations"][0]["id"] == "k"


def test_copy_skip_and_overwrite(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    source = upload(owner, dataset["id"], "pic.png", "/a", color="blue")
    existing = upload(owner, dataset["id"], "pic.png", "/b", color="red")
    request = {
        "dataset_name": dataset["name"],
        "image_ids": [source["id"]],
        "target_folder_path": "/b",
    }

    skipped = owner.post(f"{BATCH}/copy", json={**request, "duplicate_handling": "skip"}).json()
    check_shape(skipped)
    assert skipped["processed"] == 0 and skipped["failures"][0]["image_id"] == source["id"]
    assert meta(owner, existing["id"])["filename"] == "pic.png"

    old_key = next(
        i["image_url"].split("/blobs/", 1)[1].split("?", 1)[0]
        for i in owner.get(f"/datasets/by-name/{dataset['name']}/download").json()["items"]
        if i["image_id"] == existing["id"]
    )
    overwritten = owner.post(
        f"{BATCH}/copy", json={**request, "duplicate_handling": "overwrite"}
    ).json()
    assert overwritten["success"] and overwritten["processed"] == 1
    assert owner.get(f"/images/{existing['id']}/metadata").status_code == 404
    new = meta(owner, overwritten["created"][0]["image_id"])
    assert (new["filename"], new["virtual_folder_path"]) == ("pic.png", "/b")
    assert owner.get(f"/images/{new['id']}").content == image_bytes(color="blue")
    assert not (live_server.data_dir / "blobs" / old_key).exists()

    itself = owner.post(
        f"{BATCH}/copy",
        json={**request, "image_ids": [new["id"]], "duplicate_handling": "overwrite"},
    ).json()
    assert itself["processed"] == 0 and itself["failed_count"] == 1
    assert (
        owner.post(f"{BATCH}/copy", json={**request, "duplicate_handling": "merge"}).status_code
        == 422
    )


# ───────────── delete ─────────────


def test_soft_delete_then_restore(owner: httpx.Client, dataset: dict) -> None:
    images = [upload(owner, dataset["id"], f"{i}.png") for i in range(3)]
    ids = [i["id"] for i in images]
    body = owner.post(
        f"{BATCH}/delete", json={"dataset_name": dataset["name"], "image_ids": ids[:2]}
    ).json()
    check_shape(body)
    assert body["succeeded"] == ids[:2] and body["affected_folders"] == ["/"]
    assert [meta(owner, i)["is_archived"] for i in ids] == [True, True, False]
    counts = owner.get(f"/datasets/by-name/{dataset['name']}").json()["dataset"]
    assert (counts["image_count"], counts["archived_images"]) == (1, 2)

    # A new live image takes one archived name; restoring that one then fails, the other works.
    taken = upload(owner, dataset["id"], "0.png")
    restored = owner.patch(f"{BATCH}/update", json={
        "dataset_name": dataset["name"], "image_ids": ids[:2], "updates": {"is_archived": False},
    }).json()  # fmt: skip
    check_shape(restored)
    assert restored["succeeded"] == [ids[1]] and [f["id"] for f in restored["failed"]] == [ids[0]]
    assert (
        meta(owner, ids[1])["is_archived"] is False and meta(owner, ids[1])["archived_at"] is None
    )
    assert meta(owner, taken["id"])["is_archived"] is False


def test_permanent_delete_needs_admin(
    live_server: LiveServer, owner: httpx.Client, dataset: dict
) -> None:
    image = upload(owner, dataset["id"], "p.png")
    key = next(
        i["image_url"].split("/blobs/", 1)[1].split("?", 1)[0]
        for i in owner.get(f"/datasets/by-name/{dataset['name']}/download").json()["items"]
    )
    request = {"dataset_name": dataset["name"], "image_ids": [image["id"]], "permanent": True}
    with developer_http(live_server, add_key(live_server, "member")) as member:
        assert member.post(f"{BATCH}/delete", json=request).status_code == 403
        assert (
            member.post(f"{BATCH}/delete", json={**request, "permanent": False}).status_code == 200
        )
    with developer_http(live_server, add_key(live_server, "viewer")) as viewer:
        assert (
            viewer.post(f"{BATCH}/delete", json={**request, "permanent": False}).status_code == 403
        )
        assert (
            viewer.post(f"{BATCH}/move", json={**request, "target_folder_path": "/x"}).status_code
            == 403
        )
    with developer_http(live_server, add_key(live_server, "admin")) as admin:
        body = admin.post(f"{BATCH}/delete", json=request).json()
    assert body["success"] and body["processed"] == 1
    assert owner.get(f"/images/{image['id']}/metadata").status_code == 404
    assert not (live_server.data_dir / "blobs" / key).exists()


# ───────────── update ─────────────


def test_update_status_and_display_name(owner: httpx.Client, dataset: dict) -> None:
    a, b = upload(owner, dataset["id"], "a.png"), upload(owner, dataset["id"], "b.png", "/sub")
    body = owner.patch(f"{BATCH}/update", json={
        "dataset_name": dataset["name"], "image_ids": [a["id"], b["id"]],
        "updates": {"status": "review", "display_name": "Front view"},
    }).json()  # fmt: skip
    check_shape(body)
    assert body["success"] and body["processed"] == 2 and body["affected_folders"] == ["/", "/sub"]
    for image in (a, b):
        got = meta(owner, image["id"])
        assert got["status"] == "review" and got["display_name"] == "Front view"
        assert got["filename"] in ("a.png", "b.png")
    completed = owner.patch(f"{BATCH}/update", json={
        "dataset_name": dataset["name"], "image_ids": [a["id"]], "updates": {"status": "complete"},
    }).json()  # fmt: skip
    assert completed["success"]
    assert (
        owner.get(f"/datasets/by-name/{dataset['name']}").json()["dataset"]["completed_image_count"]
        == 1
    )


@pytest.mark.parametrize(
    "updates",
    [{}, {"status": None, "display_name": None, "is_archived": None}, {"status": "in_progress"},
     {"status": "done"}, {"is_archived": "maybe"}, {"filename": "x.png"}],
)  # fmt: skip
def test_update_rejects_empty_or_invalid(owner: httpx.Client, dataset: dict, updates: dict) -> None:
    image = upload(owner, dataset["id"], f"{uuid.uuid4().hex[:6]}.png")
    response = owner.patch(
        f"{BATCH}/update",
        json={"dataset_name": dataset["name"], "image_ids": [image["id"]], "updates": updates},
    )
    assert response.status_code == 422, response.text
    assert meta(owner, image["id"])["status"] == "new"


def test_published_client_shapes_validate(owner: httpx.Client, dataset: dict) -> None:
    """The published 1.0.x client parses BatchResult with these exact rules."""
    pydantic = pytest.importorskip("pydantic")

    class BatchFailure(pydantic.BaseModel):
        id: str
        reason: str

    class BatchResult(pydantic.BaseModel):
        success: bool
        processed: int = pydantic.Field(ge=0)
        failed: list[BatchFailure] = pydantic.Field(default_factory=list)
        affected_folders: list[str] = pydantic.Field(default_factory=list)

    image = upload(owner, dataset["id"], "shape.png")
    body = owner.post(f"{BATCH}/move", json={
        "dataset_name": dataset["name"], "image_ids": [image["id"], "missing"], "target_folder_path": "/x",
    }).json()  # fmt: skip
    result = BatchResult.model_validate(body)
    assert result.processed == 1 and result.failed[0].id == "missing"
