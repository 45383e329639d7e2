"""Exports over HTTP: the published client's paths and shapes, roles, errors, blobs, durability.

The format contents are checked through the SDK in tests/client/test_exports.py; here the
ZIPs are opened only as far as the pictograph format (the canonical one) goes.
"""

from __future__ import annotations

import io
import json
import signal
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import insert, select

from pictograph.server.db.tables import Export, Image, Job
from tests.live_server import (
    LiveServer,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
    start_server,
)
from tests.server.helpers import (
    add_key,
    assert_envelope,
    database,
    developer_http,
    new_dataset,
    parse_time,
    upload,
)

EXPORT_KEYS = {
    "id", "project_id", "dataset_name", "name", "format", "include_images", "class_filter",
    "status_filter", "status", "error_message", "file_size", "image_count", "annotation_count",
    "created_at", "expires_at", "download_url", "organization_id",
}  # fmt: skip
CLASSES = [
    {"name": "car", "type": "bbox"},
    {"name": "road", "type": "polygon"},
    {"name": "eye", "type": "keypoint"},
]


def car(x: float = 2) -> dict[str, Any]:
    return {"name": "car", "type": "bbox", "bounding_box": {"x": x, "y": 2, "w": 10, "h": 8}}


def road() -> dict[str, Any]:
    outer = [{"x": 1, "y": 1}, {"x": 30, "y": 1}, {"x": 30, "y": 30}, {"x": 1, "y": 30}]
    hole = [{"x": 10, "y": 10}, {"x": 20, "y": 10}, {"x": 20, "y": 20}, {"x": 10, "y": 20}]
    return {"name": "road", "type": "polygon", "polygon": {"paths": [outer, hole]}}


def eye() -> dict[str, Any]:
    return {"name": "eye", "type": "keypoint", "keypoint": {"x": 5, "y": 6}}


@pytest.fixture(scope="module")
def owner(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(owner: httpx.Client) -> dict[str, Any]:
    """Three images: ``a`` complete (car, road), ``b`` complete (eye), ``c`` new (none)."""
    project = new_dataset(
        owner, annotation_types=["bbox", "polygon", "keypoint"], classes=CLASSES
    )
    images = {
        "a": upload(owner, project["id"], "a.png"),
        "b": upload(owner, project["id"], "b.png", "/sub", color="blue"),
        "c": upload(owner, project["id"], "c.png", color="green"),
    }
    for key, saved in {"a": [car(), road()], "b": [eye()]}.items():
        response = owner.post(f"/annotations/{images[key]['id']}", json={"annotations": saved})
        assert response.status_code == 200, response.text
    return {**project, "images": images}


def export_name() -> str:
    return f"ex-{uuid.uuid4().hex[:8]}"


def create(client: httpx.Client, dataset_name: str, **body: Any) -> httpx.Response:
    return client.post(
        "/exports/", json={"dataset_name": dataset_name, "name": export_name(), **body}
    )


def wait(client: httpx.Client, dataset_name: str, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/exports/{dataset_name}/{name}")
        assert response.status_code == 200, response.text
        export = response.json()["export"]
        if export["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return export
        time.sleep(0.05)


def fetch_zip(url: str) -> zipfile.ZipFile:
    response = httpx.get(url, timeout=30)  # no API key: the signature is the credential
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def blob_path(server: LiveServer, export: dict[str, Any]) -> Path:
    return server.data_dir / "blobs" / "exports" / export["organization_id"] / f"{export['id']}.zip"


# ───────────── create / get / list / download ─────────────


def test_create_get_list_download_shapes(
    owner: httpx.Client, dataset: dict[str, Any], live_server: LiveServer
) -> None:
    response = create(owner, dataset["name"], format="pictograph", include_images=True,
                      status_filter="complete")  # fmt: skip
    assert response.status_code == 201, response.text
    created = response.json()["export"]
    assert EXPORT_KEYS <= set(created)
    assert created["status"] == "pending" and created["download_url"] is None
    assert created["dataset_name"] == dataset["name"] and created["project_id"] == dataset["id"]
    assert (created["format"], created["include_images"], created["status_filter"]) == (
        "pictograph", True, "complete",
    )  # fmt: skip
    assert created["class_filter"] is None and created["job_id"]
    parse_time(created["created_at"])

    done = wait(owner, dataset["name"], created["name"])
    assert done["status"] == "completed", done
    assert (done["image_count"], done["annotation_count"]) == (2, 3)
    assert done["file_size"] == blob_path(live_server, done).stat().st_size
    assert done["progress"] == {"total": 2, "processed": 2, "fraction": 1.0}
    parse_time(done["completed_at"])

    # A signed GET URL valid for 60 minutes, generated on every read.
    query = parse_qs(urlsplit(done["download_url"]).query)
    expires = datetime.fromtimestamp(int(query["expires"][0]), timezone.utc)
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(minutes=60))) < timedelta(minutes=1)
    archive = fetch_zip(done["download_url"])
    names = set(archive.namelist())
    assert {"images/a.png", "images/sub/b.png", "annotations/a.png.json"} <= names
    assert "images/c.png" not in names  # status "new" is not "complete"

    link = owner.get(f"/exports/{dataset['name']}/{created['name']}/download")
    assert link.status_code == 200, link.text
    body = link.json()
    assert body["expires_in"] == 3600 and body["file_size"] == done["file_size"]
    assert fetch_zip(body["download_url"]).namelist() == archive.namelist()

    listed = owner.get("/exports/", params={"dataset_name": dataset["name"], "limit": 1000}).json()
    assert {"exports", "total", "limit", "offset"} <= set(listed)
    mine = [e for e in listed["exports"] if e["id"] == created["id"]]
    assert mine and mine[0]["status"] == "completed" and mine[0]["download_url"]
    assert listed["total"] == len(listed["exports"])


def test_list_pages_newest_first_and_filters(owner: httpx.Client) -> None:
    project = new_dataset(owner, classes=[{"name": "car"}])
    names = []
    for _ in range(3):
        response = create(owner, project["name"], status_filter="all")
        assert response.status_code == 201
        names.append(response.json()["export"]["name"])
    for name in names:
        wait(owner, project["name"], name)
    page = owner.get("/exports", params={"dataset_name": project["name"], "limit": 2}).json()
    assert page["total"] == 3 and [e["name"] for e in page["exports"]] == names[::-1][:2]
    rest = owner.get(
        "/exports/", params={"dataset_name": project["name"], "limit": 2, "offset": 2}
    ).json()
    assert [e["name"] for e in rest["exports"]] == names[:1]
    completed = owner.get(
        "/exports/", params={"dataset_name": project["name"], "status": "completed"}
    ).json()
    assert completed["total"] == 3
    failed = owner.get("/exports/", params={"dataset_name": project["name"], "status": "failed"})
    assert failed.json()["total"] == 0
    assert_envelope(owner.get("/exports/", params={"status": "done"}), 422, "validation_error")
    assert_envelope(
        owner.get("/exports/", params={"dataset_name": "no-such-dataset"}), 404, "not_found"
    )


def test_status_and_class_filters(owner: httpx.Client, dataset: dict[str, Any]) -> None:
    expected = {  # status_filter → (images, annotations)
        "all": (3, 3), "complete": (2, 3), "new": (1, 0), "in_progress": (0, 0), None: (3, 3),
    }  # fmt: skip
    for status_filter, counts in expected.items():
        body = {"status_filter": status_filter} if status_filter else {}
        created = create(owner, dataset["name"], **body).json()["export"]
        done = wait(owner, dataset["name"], created["name"])
        assert (done["image_count"], done["annotation_count"]) == counts, status_filter

    # Only the car survives; "b" keeps its place (complete) with no annotations.
    created = create(owner, dataset["name"], class_filter=["car"], status_filter="complete")
    done = wait(owner, dataset["name"], created.json()["export"]["name"])
    assert (done["image_count"], done["annotation_count"], done["class_filter"]) == (2, 1, ["car"])
    archive = fetch_zip(done["download_url"])
    b = json.loads(archive.read("annotations/sub/b.png.json"))
    a = json.loads(archive.read("annotations/a.png.json"))
    assert b["annotations"] == [] and [x["name"] for x in a["annotations"]] == ["car"]
    assert "images/a.png" not in archive.namelist()  # include_images defaults to False


# ───────────── errors ─────────────


def test_validation_conflict_and_not_found(owner: httpx.Client, dataset: dict[str, Any]) -> None:
    name = dataset["name"]
    first = create(owner, name)
    assert first.status_code == 201
    duplicate = owner.post(
        "/exports/", json={"dataset_name": name, "name": first.json()["export"]["name"]}
    )
    assert_envelope(duplicate, 409, "conflict")

    bad_format = assert_envelope(create(owner, name, format="tfrecord"), 422, "validation_error")
    assert bad_format["errors"][0]["loc"] == ["format"]
    bad_status = assert_envelope(create(owner, name, status_filter="done"), 422, "validation_error")
    assert bad_status["errors"][0]["loc"] == ["status_filter"]
    bad_class = assert_envelope(create(owner, name, class_filter=["truck"]), 422, "validation_error")
    assert bad_class["errors"][0]["loc"] == ["class_filter", 0]
    for bad_name in ("", "a/b", "x" * 101, " padded"):
        response = owner.post("/exports/", json={"dataset_name": name, "name": bad_name})
        assert_envelope(response, 422, "validation_error")
    missing_field = owner.post("/exports/", json={"dataset_name": name})
    assert_envelope(missing_field, 422, "validation_error")

    assert_envelope(create(owner, "no-such-dataset"), 404, "not_found")
    assert_envelope(owner.get(f"/exports/{name}/no-such-export"), 404, "not_found")
    assert_envelope(owner.get("/exports/no-such-dataset/x"), 404, "not_found")
    assert_envelope(owner.get(f"/exports/{name}/no-such-export/download"), 404, "not_found")
    assert_envelope(owner.delete(f"/exports/{name}/no-such-export"), 404, "not_found")


def test_idempotency_key_replays_the_create(owner: httpx.Client, dataset: dict[str, Any]) -> None:
    body = {"dataset_name": dataset["name"], "name": export_name()}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = owner.post("/exports/", json=body, headers=headers)
    again = owner.post("/exports/", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["export"]["id"] == again.json()["export"]["id"]


def test_roles_and_other_organizations(
    live_server: LiveServer, owner: httpx.Client, dataset: dict[str, Any]
) -> None:
    clients = {
        role: developer_http(live_server, add_key(live_server, role))
        for role in ("viewer", "member", "admin")
    }
    outsider = developer_http(live_server, add_key(live_server, "owner", new_org=True))
    try:
        assert_envelope(create(clients["viewer"], dataset["name"]), 403, "forbidden")
        created = create(clients["member"], dataset["name"])
        assert created.status_code == 201
        name = created.json()["export"]["name"]
        wait(owner, dataset["name"], name)
        for role in ("viewer", "member"):
            assert clients[role].get(f"/exports/{dataset['name']}/{name}").status_code == 200
            assert clients[role].get(f"/exports/{dataset['name']}/{name}/download").status_code == 200
        assert_envelope(clients["member"].delete(f"/exports/{dataset['name']}/{name}"), 403, "forbidden")

        assert_envelope(outsider.get(f"/exports/{dataset['name']}/{name}"), 404, "not_found")
        assert_envelope(create(outsider, dataset["name"]), 404, "not_found")
        assert name not in [e["name"] for e in outsider.get("/exports/").json()["exports"]]

        deleted = clients["admin"].delete(f"/exports/{dataset['name']}/{name}")
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    finally:
        for client in [*clients.values(), outsider]:
            client.close()


# ───────────── deletes ─────────────


def test_delete_removes_record_and_zip(
    owner: httpx.Client, dataset: dict[str, Any], live_server: LiveServer
) -> None:
    created = create(owner, dataset["name"], include_images=True, status_filter="all")
    done = wait(owner, dataset["name"], created.json()["export"]["name"])
    path = blob_path(live_server, done)
    assert path.is_file()
    response = owner.delete(f"/exports/{dataset['name']}/{done['name']}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "deleted": True, "id": done["id"], "name": done["name"],
        "dataset_name": dataset["name"], "blob_deleted": True,
    }  # fmt: skip
    assert not path.exists()
    assert_envelope(owner.get(f"/exports/{dataset['name']}/{done['name']}"), 404, "not_found")
    assert httpx.get(done["download_url"]).status_code == 404  # the old signed URL finds nothing
    # The name is free again.
    again = owner.post("/exports/", json={"dataset_name": dataset["name"], "name": done["name"]})
    assert again.status_code == 201


def test_deleting_the_dataset_deletes_its_exports(
    owner: httpx.Client, live_server: LiveServer
) -> None:
    project = new_dataset(owner, classes=[{"name": "car"}])
    upload(owner, project["id"], "x.png")
    done = [
        wait(owner, project["name"], create(owner, project["name"], include_images=True,
                                             status_filter="all").json()["export"]["name"])
        for _ in range(2)
    ]  # fmt: skip
    assert all(blob_path(live_server, e).is_file() for e in done)
    summary = owner.delete(f"/projects/{project['name']}").json()["deleted"]
    assert summary["exports_deleted"] == 2
    assert not any(blob_path(live_server, e).exists() for e in done)
    listed = owner.get("/exports/", params={"limit": 1000}).json()["exports"]
    assert all(e["project_id"] != project["id"] for e in listed)


# ───────────── durability: the job outlives the server process ─────────────


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    """A backend and a database URL (None: SQLite in the data directory) for servers started by hand."""
    if request.param == "postgresql":
        if not postgres_available():
            pytest.skip("no PostgreSQL reachable")
        url, name = create_postgres_database()
        yield "postgresql", url
        drop_postgres_database(name)
    else:
        yield "sqlite", None


def test_pending_export_completes_after_restart(
    tmp_path: Path, backend: tuple[str, str | None]
) -> None:
    kind, url = backend
    idle = start_server(tmp_path, url, kind, PICTOGRAPH_JOB_WORKERS="0")
    try:
        with developer_http(idle, idle.api_key) as client:
            project = new_dataset(client, classes=[{"name": "car"}])
            image = upload(client, project["id"], "a.png")
            client.post(f"/annotations/{image['id']}", json={"annotations": [car()]})
            created = create(client, project["name"], include_images=True)
            assert created.status_code == 201
            name = created.json()["export"]["name"]
            time.sleep(0.5)
            pending = client.get(f"/exports/{project['name']}/{name}").json()["export"]
            assert pending["status"] == "pending" and pending["download_url"] is None
            not_ready = client.get(f"/exports/{project['name']}/{name}/download")
            assert_envelope(not_ready, 409, "export_not_ready")
    finally:
        idle.stop()

    server = start_server(tmp_path, url, kind)
    try:
        with developer_http(server, server.api_key) as client:
            done = wait(client, project["name"], name)
        assert done["status"] == "completed" and (done["image_count"], done["annotation_count"]) == (1, 1)
        assert "images/a.png" in fetch_zip(done["download_url"]).namelist()
    finally:
        server.stop()


def _add_rows(server: LiveServer, project: dict[str, Any], count: int) -> None:
    """``count`` complete image rows (no blobs) with two annotations each, straight into the database."""
    db = database(server)
    start = datetime.now(timezone.utc)
    anns = [car(2), car(20)]
    rows = []
    for i in range(count):
        row = {"id": str(uuid.uuid4()), "filename": f"r{i:06d}.jpg", "storage_key": f"none/{i}"}
        row.update(project_id=project["id"], organization_id=project["organization_id"])
        row.update(virtual_folder_path="/", width=64, height=48, status="complete")
        row.update(annotations=anns, annotation_count=2, is_archived=False)
        row.update(created_at=start + timedelta(microseconds=i), updated_at=start)
        rows.append(row)
    try:
        with db.engine.begin() as conn:
            for first in range(0, count, 5000):
                conn.execute(insert(Image), rows[first : first + 5000])
    finally:
        db.dispose()


@pytest.mark.xfail(
    strict=False,
    reason="flaky: in 1 of 3 fresh-clone CI runs the first server marked the export failed before "
    "the kill (its log is overwritten by the restarted server's); under investigation",
)
def test_export_interrupted_while_processing_resumes_after_restart(
    tmp_path: Path, backend: tuple[str, str | None]
) -> None:
    """Kill the server (SIGKILL) while the export is being written; a new server on the same
    data takes the job over once its lease runs out and finishes the archive."""
    kind, url = backend
    rows = 20_000
    first = start_server(tmp_path, url, kind, PICTOGRAPH_JOB_LEASE_SECONDS="2")
    caught_processing = False
    try:
        with developer_http(first, first.api_key) as client:
            project = new_dataset(client, classes=[{"name": "car"}])
            _add_rows(first, project, rows)
            created = create(client, project["name"], format="pictograph")
            name = created.json()["export"]["name"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                export = client.get(f"/exports/{project['name']}/{name}").json()["export"]
                if export["status"] == "processing" and export["progress"]["processed"] > 0:
                    caught_processing = True
                    break
                if export["status"] in ("completed", "failed"):
                    break
                time.sleep(0.02)
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)

    second = start_server(tmp_path, url, kind, PICTOGRAPH_JOB_LEASE_SECONDS="2")
    try:
        with developer_http(second, second.api_key) as client:
            done = wait(client, project["name"], name, timeout=180)
        assert done["status"] == "completed", done
        assert (done["image_count"], done["annotation_count"]) == (rows, 2 * rows)
        archive = fetch_zip(done["download_url"])
        assert len([n for n in archive.namelist() if n.startswith("annotations/")]) == rows
        db = database(second)
        try:
            with db.session() as session:
                export_row = session.scalar(select(Export).where(Export.id == done["id"]))
                job = session.get(Job, export_row.job_id)
                attempts = job.attempts
        finally:
            db.dispose()
        if caught_processing:
            assert attempts == 2, "the second server resumed the interrupted job"
        tmp_files = list((tmp_path / "blobs" / ".tmp").glob("export-*"))
        assert tmp_files == [], "the half-written archive was replaced, not left behind"
    finally:
        second.stop()
    if not caught_processing:
        pytest.skip("the export finished before the server could be killed mid-way")


# ───────────── the job's core, directly ─────────────


def test_keyset_pages_visit_every_row_once_in_order(tmp_path: Path) -> None:
    """Rows sharing one created_at are told apart by id; a page boundary never skips or repeats."""
    from pictograph.server.app import build_context
    from pictograph.server.db.tables import Organization, Project
    from pictograph.server.jobs.export_job import ExportSpec, iter_rows, write_export
    from pictograph.server.settings import Settings

    ctx = build_context(
        Settings(data_dir=tmp_path, write_client_config=False, bcrypt_rounds=4,
                 bootstrap_api_key="pk_live_export_core_0123456789abcdef")
    )  # fmt: skip
    try:
        with ctx.db.session() as session:
            org = session.scalar(select(Organization))
            project = Project(organization_id=org.id, name="core", classes=[{"name": "car"}])
            session.add(project)
            session.flush()
            same = datetime(2026, 1, 1, tzinfo=timezone.utc)
            ids = []
            for i in range(10):
                image = Image(
                    project_id=project.id, organization_id=org.id, filename=f"{i}.png",
                    storage_key=f"missing/{i}.png", width=8, height=8, status="complete",
                    annotations=[car()] if i % 2 else [], annotation_count=i % 2,
                    created_at=same if i < 7 else same + timedelta(seconds=i),
                )  # fmt: skip
                session.add(image)
                session.flush()
                ids.append((image.created_at, image.id))
            org_id, project_id = org.id, project.id
        from pictograph.formats.base import ClassInfo

        spec = ExportSpec(
            export_id=str(uuid.uuid4()), organization_id=org_id, project_id=project_id,
            dataset_name="core", format="pictograph", include_images=True, class_filter=None,
            status_filter="complete", classes=(ClassInfo(1, "car", "bbox"),),
        )  # fmt: skip
        seen = [row.id for row in iter_rows(ctx.db, spec, page_size=3)]
        assert seen == [image_id for _, image_id in sorted(ids, key=lambda p: (p[0], p[1]))]
        result = write_export(ctx.db, ctx.blobs, spec, page_size=3)
        assert (result.image_count, result.annotation_count, result.missing_images) == (10, 5, 10)
        with zipfile.ZipFile(ctx.blobs.path(spec.blob_key)) as archive:
            assert len([n for n in archive.namelist() if n.startswith("annotations/")]) == 10
        assert not any(n.startswith("images/") for n in archive.namelist())
        assert list((ctx.blobs.root / ".tmp").iterdir()) == []
    finally:
        ctx.db.dispose()


def test_a_failing_job_fails_the_export_with_its_reason(
    owner: httpx.Client, live_server: LiveServer, dataset: dict[str, Any]
) -> None:
    """A job that raises marks the export failed with the error; it cannot be downloaded."""
    created = create(owner, dataset["name"]).json()["export"]
    done = wait(owner, dataset["name"], created["name"])
    assert done["status"] == "completed"
    path = blob_path(live_server, done)
    path.unlink()
    path.mkdir()  # the archive can no longer be renamed into place
    db = database(live_server)
    try:  # Run the job again.
        with db.session() as session:
            row = session.get(Export, done["id"])
            row.status, row.blob_key = "pending", None
            session.get(Job, row.job_id).status = "pending"
    finally:
        db.dispose()
    try:
        failed = wait(owner, dataset["name"], created["name"])
        assert failed["status"] == "failed", failed
        assert "Error" in failed["error_message"] and failed["download_url"] is None
        not_ready = owner.get(f"/exports/{dataset['name']}/{created['name']}/download")
        assert_envelope(not_ready, 409, "export_not_ready")
        assert not list((live_server.data_dir / "blobs" / ".tmp").glob(f"export-{done['id']}-*"))
    finally:
        path.rmdir()
        owner.delete(f"/exports/{dataset['name']}/{created['name']}")
