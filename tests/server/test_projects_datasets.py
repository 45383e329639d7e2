"""Projects (write side) and datasets (read side) over HTTP: CRUD, class config, counters, downloads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import LiveServer
from tests.server.helpers import API, add_key, dataset_name, developer_http, parse_time, upload

PROJECT_KEYS = {
    "id", "organization_id", "name", "description", "annotation_types", "classes", "image_count",
    "completed_image_count", "total_size", "archived_images", "created_at", "updated_at",
}  # fmt: skip


def bbox(label: str, ident: str | None = None) -> dict:
    return {"id": ident or uuid.uuid4().hex, "name": label, "type": "bbox",
            "bounding_box": {"x": 0, "y": 0, "w": 4, "h": 4}}  # fmt: skip


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        yield client


def create(client: httpx.Client, **body) -> httpx.Response:  # type: ignore[no-untyped-def]
    return client.post("/projects/", json={"name": dataset_name(), **body})


# ───────────── create / get / list ─────────────


def test_create_with_defaults_then_get_by_name_and_id(owner: httpx.Client) -> None:
    response = create(
        owner,
        description="road signs",
        classes=[{"name": "stop"}, {"name": "yield", "type": "polygon", "color": "#ff0"}],
    )
    assert response.status_code == 201, response.text
    project = response.json()["project"]
    assert PROJECT_KEYS <= set(project)
    assert project["annotation_types"] == ["bbox"] and project["description"] == "road signs"
    assert project["classes"][0]["name"] == "stop" and project["classes"][0]["color"].startswith(
        "#"
    )
    assert project["classes"][1] == {"name": "yield", "type": "polygon", "color": "#ff0"}
    assert (
        project["image_count"],
        project["completed_image_count"],
        project["total_size"],
        project["archived_images"],
    ) == (0, 0, 0, 0)
    parse_time(project["created_at"])

    by_name = owner.get(f"/projects/{project['name']}").json()["project"]
    assert by_name == project
    dataset = owner.get(f"/datasets/by-name/{project['name']}").json()["dataset"]
    assert (
        dataset["id"] == project["id"] and dataset["organization_id"] == project["organization_id"]
    )
    assert "images" not in dataset or dataset["images"] is None
    assert owner.get(f"/datasets/{project['id']}").json()["dataset"]["name"] == project["name"]


def test_names_with_spaces_and_unicode_round_trip(owner: httpx.Client) -> None:
    odd = f"Road signs – {uuid.uuid4().hex[:6]} ü"
    assert owner.post("/projects", json={"name": odd}).status_code == 201
    assert owner.get(f"/datasets/by-name/{odd}").json()["dataset"]["name"] == odd


def test_duplicate_name_is_409(owner: httpx.Client) -> None:
    first = create(owner).json()["project"]
    response = owner.post("/projects/", json={"name": first["name"]})
    assert response.status_code == 409 and response.json()["error_code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"annotation_types": ["bbox", "circle"]}, ["annotation_types", 1]),
        ({"annotation_types": []}, ["annotation_types"]),
        ({"classes": [{"name": "a"}, {"name": "a"}]}, ["classes", 1, "name"]),
        ({"classes": [{"name": "a", "type": "mask"}]}, ["classes", 0, "type"]),
        ({"classes": [{"name": " "}]}, ["classes", 0, "name"]),
        ({"classes": [{"type": "bbox"}]}, ["classes", 0, "name"]),
        ({"name": ""}, ["name"]),
        ({"name": "a/b"}, ["name"]),
        ({"colour": "red"}, ["colour"]),
        ({"description": "a\x00b"}, ["description"]),
        ({"classes": [{"name": "a", "note": "x\x00"}]}, ["classes", 0, "note"]),
        ({"name": "a\x00b"}, ["name"]),
    ],
)
def test_create_rejects_invalid_fields(owner: httpx.Client, body: dict, loc: list) -> None:  # type: ignore[type-arg]
    response = owner.post("/projects/", json={"name": dataset_name(), **body})
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]


def test_accepted_annotation_types(owner: httpx.Client) -> None:
    types = ["bbox", "box", "polygon", "polyline", "keypoint"]
    assert create(owner, annotation_types=types).json()["project"]["annotation_types"] == types


def test_class_type_defaults_to_the_first_annotation_type(owner: httpx.Client) -> None:
    project = create(owner, annotation_types=["polygon"], classes=[{"name": "a"}]).json()["project"]
    assert project["classes"][0]["type"] == "polygon"
    patched = owner.patch(
        f"/projects/{project['name']}",
        json={"annotation_types": ["keypoint"], "classes": [{"name": "a"}, {"name": "b"}]},
    ).json()["project"]
    assert [c["type"] for c in patched["classes"]] == ["keypoint", "keypoint"]


def test_lists_page_with_total(owner: httpx.Client) -> None:
    for _ in range(3):
        create(owner)
    first = owner.get("/datasets/", params={"limit": 2, "offset": 0}).json()
    assert {"datasets", "total", "limit", "offset"} <= set(first)
    assert len(first["datasets"]) == 2 and first["total"] >= 3 and first["limit"] == 2
    second = owner.get("/datasets", params={"limit": 2, "offset": 2}).json()
    assert not {d["id"] for d in first["datasets"]} & {d["id"] for d in second["datasets"]}
    everything = owner.get("/datasets/", params={"limit": 1000}).json()
    assert len(everything["datasets"]) == everything["total"]
    assert owner.get("/datasets/", params={"offset": everything["total"]}).json()["datasets"] == []
    projects = owner.get("/projects/", params={"limit": 1000}).json()
    assert {"projects", "total", "limit", "offset"} <= set(projects)
    assert [p["id"] for p in projects["projects"]] == [d["id"] for d in everything["datasets"]]
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        assert owner.get("/datasets/", params=bad).status_code == 422
        assert owner.get("/projects/", params=bad).status_code == 422


def test_unknown_names_are_404(owner: httpx.Client) -> None:
    missing = dataset_name()
    for response in (
        owner.get("/projects/a%00b"),
        owner.get("/datasets/by-name/a%00b"),
        owner.get("/datasets/a%00b"),
        owner.get(f"/projects/{missing}"),
        owner.get(f"/datasets/by-name/{missing}"),
        owner.get(f"/datasets/{uuid.uuid4()}"),
        owner.get(f"/datasets/by-name/{missing}/download"),
        owner.patch(f"/projects/{missing}", json={"description": "x"}),
        owner.delete(f"/projects/{missing}"),
    ):
        assert response.status_code == 404 and response.json()["error_code"] == "not_found"


# ───────────── counters and embedded images ─────────────


def test_counters_and_embedded_images(owner: httpx.Client) -> None:
    project = create(owner, classes=[{"name": "car"}]).json()["project"]
    images = [upload(owner, project["id"], f"{i}.png") for i in range(3)]
    owner.post(f"/annotations/{images[0]['id']}", json={"annotations": [bbox("car")]})
    owner.delete(f"/images/{images[2]['id']}")
    dataset = owner.get(f"/datasets/by-name/{project['name']}").json()["dataset"]
    assert dataset["image_count"] == 2 and dataset["completed_image_count"] == 1
    assert dataset["archived_images"] == 1
    assert dataset["total_size"] == images[0]["file_size"] + images[1]["file_size"]

    full = owner.get(
        f"/datasets/by-name/{project['name']}", params={"include_images": "true"}
    ).json()["dataset"]
    assert [i["id"] for i in full["images"]] == [images[0]["id"], images[1]["id"]]
    first = full["images"][0]
    assert (
        first["status"] == "complete" and first["annotation_count"] == 1 and first["annotation_url"]
    )
    parse_time(first["created_at"])
    page = owner.get(
        f"/datasets/by-name/{project['name']}",
        params={"include_images": "true", "images_limit": 1, "images_offset": 1},
    ).json()["dataset"]
    assert [i["id"] for i in page["images"]] == [images[1]["id"]]
    too_many = owner.get(
        f"/datasets/by-name/{project['name']}",
        params={"include_images": "true", "images_limit": 10001},
    )
    assert too_many.status_code == 422
    listed = next(
        d
        for d in owner.get("/datasets/", params={"limit": 1000}).json()["datasets"]
        if d["id"] == project["id"]
    )
    assert listed["image_count"] == 2 and listed["completed_image_count"] == 1


# ───────────── download listing ─────────────


def test_download_listing_modes_and_status_filter(owner: httpx.Client) -> None:
    project = create(owner, classes=[{"name": "car"}]).json()["project"]
    done, todo, archived = (upload(owner, project["id"]) for _ in range(3))
    owner.post(f"/annotations/{done['id']}", json={"annotations": [bbox("car")]})
    owner.delete(f"/images/{archived['id']}")
    url = f"/datasets/by-name/{project['name']}/download"

    full = owner.get(url).json()
    assert full["dataset_id"] == project["id"] and full["total"] == 2
    items = {i["image_id"]: i for i in full["items"]}
    assert set(items) == {done["id"], todo["id"]}
    assert items[done["id"]]["annotation_url"] and items[todo["id"]]["annotation_url"] is None
    assert (
        httpx.get(items[todo["id"]]["image_url"]).content
        == owner.get(f"/images/{todo['id']}").content
    )
    annotation = owner.get(items[done["id"]]["annotation_url"].removeprefix(API)).json()
    assert [a["name"] for a in annotation["annotations"]] == ["car"]

    images_only = owner.get(url, params={"mode": "images_only"}).json()["items"]
    assert all(i["image_url"] and i["annotation_url"] is None for i in images_only)
    annotations_only = owner.get(url, params={"mode": "annotations_only"}).json()["items"]
    assert [i["image_id"] for i in annotations_only] == [done["id"]]
    assert annotations_only[0]["image_url"] is None and annotations_only[0]["annotation_url"]

    def ids(status: str) -> set[str]:
        return {
            i["image_id"] for i in owner.get(url, params={"status_filter": status}).json()["items"]
        }

    assert (
        ids("complete") == {done["id"]}
        and ids("new") == {todo["id"]}
        and ids("in_progress") == set()
    )
    assert owner.get(url, params={"status_filter": "finished"}).status_code == 422
    assert owner.get(url, params={"mode": "everything"}).status_code == 422
    assert owner.get(url, params={"limit": 10001}).status_code == 422
    assert len(owner.get(url, params={"limit": 1}).json()["items"]) == 1


# ───────────── update ─────────────


def test_update_fields(owner: httpx.Client) -> None:
    project = create(owner).json()["project"]
    renamed = dataset_name()
    response = owner.patch(
        f"/projects/{project['name']}",
        json={"name": renamed, "description": "new", "annotation_types": ["polygon"]},
    )
    assert response.status_code == 200, response.text
    updated = response.json()["project"]
    assert (updated["name"], updated["description"], updated["annotation_types"]) == (
        renamed,
        "new",
        ["polygon"],
    )
    assert updated["id"] == project["id"] and parse_time(updated["updated_at"]) >= parse_time(
        project["updated_at"]
    )
    assert owner.get(f"/projects/{project['name']}").status_code == 404
    assert owner.get(f"/projects/{renamed}").json()["project"]["description"] == "new"
    # Clearing the description, renaming onto another project, empty and invalid patches.
    assert (
        owner.patch(f"/projects/{renamed}", json={"description": None}).json()["project"][
            "description"
        ]
        is None
    )
    other = create(owner).json()["project"]
    assert owner.patch(f"/projects/{renamed}", json={"name": other["name"]}).status_code == 409
    assert owner.patch(f"/projects/{renamed}", json={}).status_code == 422
    assert (
        owner.patch(f"/projects/{renamed}", json={"annotation_types": ["hexagon"]}).status_code
        == 422
    )
    assert (
        owner.patch(
            f"/projects/{renamed}", json={"classes": [{"name": "a"}, {"name": "a"}]}
        ).status_code
        == 422
    )
    assert owner.get(f"/projects/{renamed}").json()["project"]["name"] == renamed


def test_removing_a_class_removes_its_annotations(owner: httpx.Client) -> None:
    classes = [
        {"name": "car", "type": "bbox"},
        {"name": "person", "type": "bbox"},
        {"name": "tree", "type": "bbox"},
    ]
    project = create(owner, classes=classes).json()["project"]
    both, only_person, untouched = (upload(owner, project["id"]) for _ in range(3))
    owner.post(
        f"/annotations/{both['id']}",
        json={"annotations": [bbox("car", "c1"), bbox("person", "p1"), bbox("person", "p2")]},
    )
    owner.post(f"/annotations/{only_person['id']}", json={"annotations": [bbox("person", "p3")]})
    owner.post(f"/annotations/{untouched['id']}", json={"annotations": [bbox("tree", "t1")]})
    owner.delete(
        f"/images/{untouched['id']}"
    )  # archived images are cleaned too — but it has no person
    assert (
        owner.get(f"/datasets/by-name/{project['name']}").json()["dataset"]["completed_image_count"]
        == 2
    )

    response = owner.patch(
        f"/projects/{project['name']}",
        json={
            "classes": [
                {"name": "car", "type": "bbox", "color": "#123456"},
                {"name": "tree", "type": "bbox"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["annotations_removed"] == 3
    assert [c["name"] for c in body["project"]["classes"]] == ["car", "tree"]
    assert body["project"]["classes"][0]["color"] == "#123456"
    assert body["project"]["completed_image_count"] == 1

    kept = owner.get(f"/annotations/{both['id']}").json()
    assert [a["id"] for a in kept["annotations"]] == ["c1"] and kept["status"] == "complete"
    emptied = owner.get(f"/annotations/{only_person['id']}").json()
    assert (
        emptied["annotations"] == []
        and emptied["status"] == "new"
        and emptied["annotation_count"] == 0
    )
    assert owner.get(f"/annotations/{untouched['id']}").json()["annotation_count"] == 1
    # The removed class is no longer accepted.
    refused = owner.post(f"/annotations/{both['id']}", json={"annotations": [bbox("person")]})
    assert refused.status_code == 422


# ───────────── delete ─────────────


def test_delete_needs_admin_and_removes_everything(
    live_server: LiveServer, owner: httpx.Client
) -> None:
    project = create(owner, classes=[{"name": "car"}]).json()["project"]
    images = [upload(owner, project["id"], folder=f"/f{i}") for i in range(2)]
    owner.post(f"/annotations/{images[0]['id']}", json={"annotations": [bbox("car"), bbox("car")]})
    owner.delete(f"/images/{images[1]['id']}")
    keys = [
        item["image_url"].split("/blobs/", 1)[1].split("?", 1)[0]
        for item in owner.get(f"/datasets/by-name/{project['name']}/download").json()["items"]
    ]
    assert keys and all((live_server.data_dir / "blobs" / key).exists() for key in keys)

    with developer_http(live_server, add_key(live_server, "member")) as member:
        assert member.delete(f"/projects/{project['name']}").status_code == 403
    with developer_http(live_server, add_key(live_server, "admin")) as admin:
        response = admin.delete(f"/projects/{project['name']}")
    assert response.status_code == 200, response.text
    deleted = response.json()["deleted"]
    assert deleted["images_deleted"] == 2 and deleted["annotations_deleted"] == 2
    assert owner.get(f"/projects/{project['name']}").status_code == 404
    assert owner.get(f"/images/{images[0]['id']}/metadata").status_code == 404
    assert not any((live_server.data_dir / "blobs" / key).exists() for key in keys)
    # The name is free again.
    assert owner.post("/projects/", json={"name": project["name"]}).status_code == 201


# ───────────── roles and organizations ─────────────


def test_viewer_reads_member_writes(live_server: LiveServer, owner: httpx.Client) -> None:
    project = create(owner).json()["project"]
    with developer_http(live_server, add_key(live_server, "viewer")) as viewer:
        assert viewer.get(f"/projects/{project['name']}").status_code == 200
        assert viewer.get("/datasets/").status_code == 200
        assert viewer.post("/projects/", json={"name": dataset_name()}).status_code == 403
        assert (
            viewer.patch(f"/projects/{project['name']}", json={"description": "x"}).status_code
            == 403
        )
        assert viewer.delete(f"/projects/{project['name']}").status_code == 403
    with developer_http(live_server, add_key(live_server, "member")) as member:
        assert member.post("/projects/", json={"name": dataset_name()}).status_code == 201
        assert (
            member.patch(f"/projects/{project['name']}", json={"description": "x"}).status_code
            == 200
        )
    with developer_http(live_server, None) as anonymous:
        assert anonymous.get("/datasets/").status_code == 401


def test_organizations_are_isolated(live_server: LiveServer, owner: httpx.Client) -> None:
    ours = create(owner).json()["project"]
    with developer_http(live_server, add_key(live_server, "owner", new_org=True)) as other:
        assert other.get(f"/projects/{ours['name']}").status_code == 404
        assert other.get(f"/datasets/by-name/{ours['name']}").status_code == 404
        assert other.get(f"/datasets/{ours['id']}").status_code == 404
        assert other.get(f"/datasets/by-name/{ours['name']}/download").status_code == 404
        assert (
            other.patch(f"/projects/{ours['name']}", json={"description": "x"}).status_code == 404
        )
        assert other.delete(f"/projects/{ours['name']}").status_code == 404
        assert other.get("/datasets/").json()["datasets"] == []
        # The same name is free in another organization.
        theirs = other.post("/projects/", json={"name": ours["name"]})
        assert theirs.status_code == 201
        assert other.get("/projects/").json()["total"] == 1
    assert owner.get(f"/projects/{ours['name']}").json()["project"]["id"] == ours["id"]
