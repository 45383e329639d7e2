"""Imports from files over HTTP: formats written by other tools, the report, and hostile archives.

Datasets written by ``supervision`` (COCO, YOLO, Pascal VOC) import with their boxes; V7
tags and ellipses are counted as skipped; malformed files are reported with the file and the
line or key; archives with zip-slip names, symlinks or decompression bombs are refused with
nothing written outside the import's own folder; a queued import survives a restart.
"""

from __future__ import annotations

import importlib
import io
import json
import random
import stat
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from PIL import Image

from tests.live_server import LiveServer, running_server, start_server
from tests.server.helpers import add_key, assert_envelope, dataset_name, developer_http

TERMINAL = {"completed", "failed", "cancelled"}


# ───────────── helpers ─────────────


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes(entries: Mapping[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def post_zip(client: httpx.Client, data: bytes, name: str, **fields: Any) -> httpx.Response:
    form = {"dataset_name": name, **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items()}}
    return client.post("/imports", files={"file": ("data.zip", data, "application/zip")}, data=form)


def wait_import(client: httpx.Client, import_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/imports/{import_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"import still {job['status']}: {job}"
        time.sleep(0.2)


def import_zip(client: httpx.Client, data: bytes, name: str, **fields: Any) -> dict[str, Any]:
    response = post_zip(client, data, name, **fields)
    assert response.status_code == 202, response.text
    job = wait_import(client, response.json()["id"])
    assert job["status"] == "completed", job
    return job


def contents(client: httpx.Client, name: str) -> dict[str, list[dict[str, Any]]]:
    """``folder/filename`` (no leading slash) → the image's stored annotations."""
    response = client.get(f"/datasets/by-name/{name}", params={"include_images": "true"})
    assert response.status_code == 200, response.text
    result = {}
    for image in response.json()["dataset"]["images"]:
        folder = image["virtual_folder_path"].strip("/")
        key = f"{folder}/{image['filename']}" if folder else image["filename"]
        annotations = client.get(f"/annotations/{image['id']}").json()["annotations"]
        result[key] = annotations
    return result


def reader_available(name: str) -> bool:
    try:
        return hasattr(importlib.import_module(f"pictograph.formats.{name}"), "READER")
    except ImportError:
        return False


def imports_dir_is_clean(server: LiveServer) -> bool:
    folder = server.data_dir / "imports"
    return not folder.exists() or not any(folder.iterdir())


def files_outside_data(server: LiveServer, *names: str) -> list[Path]:
    """Any of ``names`` written anywhere under the data folder's parent (where a slip would land)."""
    root = server.data_dir.parent
    return [path for path in root.rglob("*") if path.name in names]


@pytest.fixture()
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    with developer_http(live_server, live_server.api_key) as client:
        client.timeout = httpx.Timeout(120)
        yield client


# ───────────── datasets written by supervision ─────────────

SV_CLASSES = ["car", "person"]
# (image file, [(x1, y1, x2, y2, class id)]); integer corners so every format carries them exactly.
SV_BOXES = {
    "one.jpg": [(4, 6, 30, 20, 0), (10, 12, 50, 40, 1)],
    "two.jpg": [(0, 0, 16, 16, 1)],
    "three.jpg": [],
}


def supervision_dataset(tmp_path: Path, fmt: str) -> Path:
    np = pytest.importorskip("numpy")
    sv = pytest.importorskip("supervision")
    source = tmp_path / "sv-source"
    source.mkdir()
    paths, annotations = [], {}
    for index, (name, boxes) in enumerate(SV_BOXES.items()):
        path = source / name
        Image.new("RGB", (64, 48), (20 * index, 90, 160)).save(path, format="JPEG")
        paths.append(str(path))
        if boxes:
            xyxy = np.array([b[:4] for b in boxes], dtype=float)
            class_id = np.array([b[4] for b in boxes], dtype=int)
        else:
            xyxy, class_id = np.empty((0, 4)), np.empty((0,), dtype=int)
        annotations[str(path)] = sv.Detections(xyxy=xyxy, class_id=class_id)
    dataset = sv.DetectionDataset(classes=SV_CLASSES, images=paths, annotations=annotations)
    out = tmp_path / f"sv-{fmt}"
    if fmt == "coco":
        dataset.as_coco(images_directory_path=str(out / "images"), annotations_path=str(out / "annotations.json"))
    elif fmt == "yolo":
        dataset.as_yolo(
            images_directory_path=str(out / "images"),
            annotations_directory_path=str(out / "labels"),
            data_yaml_path=str(out / "data.yaml"),
        )
    else:
        # VOC's own folder names, which the reader looks for.
        dataset.as_pascal_voc(images_directory_path=str(out / "JPEGImages"), annotations_directory_path=str(out / "Annotations"))
    return out


@pytest.mark.parametrize("fmt", ["coco", "yolo", "pascal_voc"])
@pytest.mark.parametrize("named", [True, False], ids=["format-given", "format-detected"])
def test_supervision_datasets_import_with_their_boxes(api: httpx.Client, tmp_path: Path, fmt: str, named: bool) -> None:
    if not reader_available(fmt):
        pytest.skip(f"the {fmt} reader (pictograph.formats.{fmt}) is not written yet")
    folder = supervision_dataset(tmp_path, fmt)
    name = dataset_name()
    fields = {"format": fmt} if named else {}
    job = import_zip(api, zip_folder(folder), name, **fields)
    report = job["report"]
    assert report["format"] == fmt
    assert report["images_imported"] == 3, report
    assert report["annotations_imported"] == 3, report
    assert report["images_failed"] == 0 and report["errors"] == [], report
    assert sorted(report["classes_created"]) == ["car", "person"]

    stored = contents(api, name)
    by_file = {key.rsplit("/", 1)[-1]: value for key, value in stored.items()}
    assert sorted(by_file) == sorted(SV_BOXES)
    for filename, boxes in SV_BOXES.items():
        got = sorted(
            (a["name"], a["bounding_box"]["x"], a["bounding_box"]["y"], a["bounding_box"]["w"], a["bounding_box"]["h"])
            for a in by_file[filename]
        )
        want = sorted((SV_CLASSES[c], x1, y1, x2 - x1, y2 - y1) for x1, y1, x2, y2, c in boxes)
        assert len(got) == len(want), (filename, got)
        for (g_name, *g_box), (w_name, *w_box) in zip(got, want, strict=True):
            assert g_name == w_name
            assert all(abs(g - w) <= 1.01 for g, w in zip(g_box, w_box, strict=True)), (filename, got, want)
    project = api.get(f"/projects/{name}").json()["project"]
    assert {c["name"] for c in project["classes"]} == {"car", "person"}


# ───────────── V7 JSON and the report ─────────────


def v7_file(name: str, annotations: list[Any], path: str = "/", **item: Any) -> str:
    return json.dumps({
        "version": "2.0",
        "item": {"name": name, "path": path, "slots": [{"slot_name": "0", "width": 64, "height": 48}], **item},
        "annotations": annotations,
    })


SQUARE = [{"x": 1, "y": 1}, {"x": 20, "y": 1}, {"x": 20, "y": 20}, {"x": 1, "y": 20}]


def test_v7_tags_and_ellipses_are_counted_as_skipped(api: httpx.Client) -> None:
    name = dataset_name()
    data = zip_bytes({
        "export/images/a.png": png_bytes(),
        "export/images/night/b.png": png_bytes(color=(0, 0, 90)),
        "export/a.json": v7_file("a.png", [
            {"id": "1", "name": "road", "polygon": {"paths": [SQUARE]}},
            {"id": "2", "name": "car", "bounding_box": {"x": 2, "y": 3, "w": 10, "h": 5}},
            {"id": "3", "name": "wet", "tag": {}},
            {"id": "4", "name": "sunny", "tag": {}},
            {"id": "5", "name": "pothole", "ellipse": {"center": {"x": 5, "y": 5}, "radius": {"x": 1, "y": 2}, "angle": 0},
             "bounding_box": {"x": 4, "y": 3, "w": 2, "h": 4}},
        ]),
        "export/night/b.json": v7_file("b.png", [
            {"id": "6", "name": "lane", "line": {"path": [{"x": 0, "y": 0}, {"x": 9, "y": 9}]}},
            {"id": "7", "name": "light", "keypoint": {"x": 3, "y": 4}},
            {"id": "8", "name": "wet", "tag": {}},
        ], path="/night"),
    })
    job = import_zip(api, data, name)
    report = job["report"]
    assert report["format"] == "v7"
    assert report["skipped"] == {"v7 tag": 3, "v7 ellipse": 1}
    assert report["annotations_skipped"] == 4
    assert report["images_imported"] == 2 and report["annotations_imported"] == 4
    assert report["dataset_created"] is True
    assert set(report["classes_created"]) == {"road", "car", "lane", "light"}
    stored = contents(api, name)
    assert sorted(stored) == ["a.png", "night/b.png"]
    types = {a["name"]: a["type"] for annotations in stored.values() for a in annotations}
    assert types == {"road": "polygon", "car": "bbox", "lane": "polyline", "light": "keypoint"}
    road = next(a for a in stored["a.png"] if a["name"] == "road")
    assert road["polygon"]["paths"][0] == SQUARE
    assert job["progress"]["total"] == 2 and job["progress"]["processed"] == 2


def test_malformed_files_are_reported_with_file_and_line_or_key(api: httpx.Client) -> None:
    name = dataset_name()
    data = zip_bytes({
        "images/a.png": png_bytes(),
        "images/b.png": png_bytes(color=(1, 2, 3)),
        "a.json": v7_file("a.png", [{"id": "1", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 5, "h": 5}}]),
        "b.json": v7_file("b.png", [{"id": "2", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": -5, "h": 5}}]),
        "broken.json": '{"version": "2.0",\n  "item": {\n    "name": "x.png",,\n}',
        "wrong.json": json.dumps({"version": "2.0", "item": {"name": "y.png", "slots": [{}]}, "annotations": "oops"}),
    })
    response = post_zip(api, data, name, format="v7")
    assert response.status_code == 202, response.text
    job = wait_import(api, response.json()["id"])
    assert job["status"] == "completed"
    errors = job["report"]["errors"]
    assert job["report"]["errors_total"] == len(errors) == 3, errors
    assert any(e.startswith("broken.json: line 3") for e in errors), errors
    assert any(e.startswith("wrong.json: annotations") for e in errors), errors
    assert any(e.startswith("b.json: annotations[0].bounding_box") for e in errors), errors
    # b.png still imports (its bad annotation dropped); the other files' images are all there.
    assert job["report"]["images_imported"] == 2
    assert sorted(contents(api, name)) == ["a.png", "b.png"]


def test_an_image_whose_annotations_fail_validation_is_imported_without_them(api: httpx.Client) -> None:
    name = dataset_name()
    duplicate = [
        {"id": "same", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 5, "h": 5}},
        {"id": "same", "name": "car", "bounding_box": {"x": 2, "y": 2, "w": 5, "h": 5}},
    ]
    data = zip_bytes({
        "images/a.png": png_bytes(),
        "images/b.png": png_bytes(color=(9, 9, 9)),
        "a.json": v7_file("a.png", duplicate),
        "b.json": v7_file("b.png", [{"id": "ok", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 5, "h": 5}}]),
    })
    report = import_zip(api, data, name, format="v7")["report"]
    assert report["images_imported"] == 2
    assert report["annotations_imported"] == 1
    assert report["annotations_failed"] == 2
    assert any(e.startswith("a.png: ") and "Duplicate annotation id" in e for e in report["errors"]), report["errors"]
    stored = contents(api, name)
    assert stored["a.png"] == [] and len(stored["b.png"]) == 1


def test_importing_again_skips_images_already_in_the_dataset(api: httpx.Client) -> None:
    name = dataset_name()
    data = zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", [])})
    import_zip(api, data, name)
    again = import_zip(api, data, name, create_if_missing=False)["report"]
    assert again["images_imported"] == 0 and again["images_skipped"] == 1
    assert again["skipped"] == {"image already in dataset": 1}
    assert again["dataset_created"] is False


def test_a_raw_zip_body_with_query_parameters_works(api: httpx.Client) -> None:
    name = dataset_name()
    data = zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", [])})
    response = api.post(
        "/imports", content=data, params={"dataset_name": name, "format": "v7"},
        headers={"Content-Type": "application/zip"},
    )
    assert response.status_code == 202, response.text
    assert wait_import(api, response.json()["id"])["report"]["images_imported"] == 1


def test_imports_are_listed_newest_first_and_unknown_ids_are_404(api: httpx.Client) -> None:
    name = dataset_name()
    job = import_zip(api, zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", [])}), name)
    listing = api.get("/imports", params={"limit": 5}).json()
    assert listing["imports"][0]["id"] == job["id"]
    assert listing["total"] >= 1 and listing["limit"] == 5
    assert_envelope(api.get("/imports/00000000-0000-0000-0000-000000000000"), 404, "not_found")


# ───────────── refusals ─────────────


def test_bad_requests_are_refused_clearly(api: httpx.Client, live_server: LiveServer) -> None:
    good = zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", [])})
    assert_envelope(post_zip(api, good, dataset_name(), format="darknet"), 422, "validation_error")
    assert_envelope(post_zip(api, b"this is not a zip", dataset_name()), 422, "validation_error")
    missing = post_zip(api, good, dataset_name(), create_if_missing=False)
    assert_envelope(missing, 404, "not_found")
    assert_envelope(api.post("/imports", data={"dataset_name": "x"}, files={}), 415, "unsupported_media_type")
    no_file = api.post("/imports", files={"other": ("a.txt", b"x", "text/plain")}, data={"dataset_name": "x"})
    assert_envelope(no_file, 422, "validation_error")
    assert_envelope(api.post("/imports", content=b"x", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    viewer = add_key(live_server, "viewer")
    with developer_http(live_server, viewer) as as_viewer:
        assert_envelope(post_zip(as_viewer, good, dataset_name()), 403, "forbidden")
    # Server paths are off unless PICTOGRAPH_IMPORT_ROOTS names the allowed roots.
    path = api.post("/imports", json={"dataset_name": dataset_name(), "path": str(live_server.data_dir)})
    assert_envelope(path, 403, "forbidden")
    assert imports_dir_is_clean(live_server)


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("images/a.png", png_bytes())
        link = zipfile.ZipInfo("images/passwd.png")
        link.create_system = 3  # Unix, so external_attr carries the mode
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("../slip-escaped.png", "'..'"),
        ("images/../../slip-escaped.png", "'..'"),
        ("/tmp/slip-absolute.png", "absolute"),
        ("C:\\slip-drive.png", "absolute"),
        ("images\\..\\..\\slip-backslash.png", "'..'"),
    ],
)
def test_zip_slip_entries_are_refused(api: httpx.Client, live_server: LiveServer, entry: str, expected: str) -> None:
    data = zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", []), entry: png_bytes()})
    response = post_zip(api, data, dataset_name())
    body = assert_envelope(response, 422, "unsafe_archive")
    assert expected in body["detail"] and repr(entry) in body["detail"]
    assert imports_dir_is_clean(live_server)
    assert not files_outside_data(live_server, "slip-escaped.png", "slip-absolute.png", "slip-drive.png", "slip-backslash.png")


def test_a_symlink_entry_is_refused(api: httpx.Client, live_server: LiveServer) -> None:
    body = assert_envelope(post_zip(api, _symlink_zip(), dataset_name()), 422, "unsafe_archive")
    assert "symlink" in body["detail"]
    assert imports_dir_is_clean(live_server)
    assert not [p for p in live_server.data_dir.rglob("passwd.png")]


def test_a_decompression_bomb_is_refused(api: httpx.Client, live_server: LiveServer, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", v7_file("a.png", []))
        with archive.open("images/huge.png", "w", force_zip64=True) as entry:
            zeros = bytes(1024 * 1024)
            for _ in range(200):  # 200 MB of zeros: a few hundred KB compressed
                entry.write(zeros)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    with bomb.open("rb") as handle:
        response = api.post(
            "/imports", files={"file": ("bomb.zip", handle, "application/zip")}, data={"dataset_name": dataset_name()}
        )
    body = assert_envelope(response, 413, "archive_too_large")
    assert "decompression bomb" in body["detail"] and "images/huge.png" in body["detail"]
    assert imports_dir_is_clean(live_server)
    assert not [p for p in live_server.data_dir.parent.rglob("huge.png")]


# ───────────── limits and server paths: a server of their own ─────────────

SMALL_LIMIT = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """A server whose imports are capped at 5 MB and that may read folders under ``roots``."""
    base = tmp_path_factory.mktemp("limited")
    roots = base / "roots"
    roots.mkdir()
    (base / "data").mkdir()
    with running_server(
        "sqlite", base / "data",
        PICTOGRAPH_IMPORT_MAX_BYTES=str(SMALL_LIMIT), PICTOGRAPH_IMPORT_ROOTS=str(roots),
    ) as server:
        yield server, roots


@pytest.fixture()
def limited_api(limited: tuple[LiveServer, Path]) -> Iterator[httpx.Client]:
    server, _ = limited
    with developer_http(server, server.api_key) as client:
        client.timeout = httpx.Timeout(120)
        yield client


def test_uploads_over_the_size_limit_are_413(limited: tuple[LiveServer, Path], limited_api: httpx.Client) -> None:
    server, _ = limited
    noise = random.Random(1).randbytes(SMALL_LIMIT + 1024)
    big = zip_bytes({"images/a.png": noise})
    assert_envelope(post_zip(limited_api, big, dataset_name()), 413, "archive_too_large")
    # Inflating past 4x the limit in total (each entry a modest 8:1) is refused as well.
    rng = random.Random(2)
    entries = {f"part{i}.txt": bytes(rng.choice(b"ab") for _ in range(1024 * 1024)) for i in range(24)}
    body = assert_envelope(post_zip(limited_api, zip_bytes(entries), dataset_name()), 413, "archive_too_large")
    assert "would extract to more than" in body["detail"]
    assert imports_dir_is_clean(server)


def test_a_folder_on_the_server_imports_in_place(limited: tuple[LiveServer, Path], limited_api: httpx.Client) -> None:
    server, roots = limited
    folder = roots / "v7-set"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").write_bytes(png_bytes())
    (folder / "a.json").write_text(v7_file("a.png", [{"id": "1", "name": "car", "bounding_box": {"x": 1, "y": 1, "w": 4, "h": 4}}]))
    name = dataset_name()
    response = limited_api.post("/imports", json={"dataset_name": name, "path": str(folder)})
    assert response.status_code == 202, response.text
    assert response.json()["source"] == "path"
    job = wait_import(limited_api, response.json()["id"])
    assert job["status"] == "completed", job
    assert job["report"]["images_imported"] == 1 and job["report"]["annotations_imported"] == 1
    assert (folder / "images" / "a.png").exists()  # read in place, left alone
    # Outside the roots, or a missing folder: refused.
    outside = limited_api.post("/imports", json={"dataset_name": name, "path": str(server.data_dir)})
    assert_envelope(outside, 403, "forbidden")
    escape = limited_api.post("/imports", json={"dataset_name": name, "path": str(roots / ".." / "data")})
    assert_envelope(escape, 403, "forbidden")
    assert_envelope(limited_api.post("/imports", json={"dataset_name": name, "path": str(roots / "nope")}), 404, "not_found")
    assert_envelope(limited_api.post("/imports", json={"dataset_name": name, "path": "relative/dir"}), 422, "validation_error")
    # Members may upload, but reading the server's disk takes an admin.
    member = add_key(server, "member")
    with developer_http(server, member) as as_member:
        assert_envelope(as_member.post("/imports", json={"dataset_name": name, "path": str(folder)}), 403, "forbidden")


def test_a_symlink_out_of_the_roots_fails_the_import(limited: tuple[LiveServer, Path], limited_api: httpx.Client, tmp_path: Path) -> None:
    _, roots = limited
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    folder = roots / "linked"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").symlink_to(secret)
    (folder / "a.json").write_text(v7_file("a.png", []))
    response = limited_api.post("/imports", json={"dataset_name": dataset_name(), "path": str(folder)})
    assert response.status_code == 202, response.text
    job = wait_import(limited_api, response.json()["id"])
    assert job["status"] == "failed"
    assert "symlink" in job["error_message"] and "images/a.png" in job["error_message"]


# ───────────── durability ─────────────


def test_a_queued_import_survives_a_restart(tmp_path: Path) -> None:
    """Accepted while no worker runs, then the server restarts with workers: the job completes."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    server = start_server(data_dir, None, "sqlite", PICTOGRAPH_JOB_WORKERS="0")
    name = dataset_name()
    try:
        with developer_http(server, server.api_key) as client:
            data = zip_bytes({"images/a.png": png_bytes(), "a.json": v7_file("a.png", [])})
            response = post_zip(client, data, name)
            assert response.status_code == 202, response.text
            import_id = response.json()["id"]
            time.sleep(0.5)
            assert client.get(f"/imports/{import_id}").json()["status"] == "pending"
            # A queued import cancelled before any worker took it: gone at once, upload too.
            other = post_zip(client, data, dataset_name()).json()["id"]
            assert len(list((data_dir / "imports").iterdir())) == 2
            cancelled = client.post(f"/imports/{other}/cancel").json()
            assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    finally:
        server.stop()
    assert len(list((data_dir / "imports").iterdir())) == 1  # the first upload waits on disk
    server = start_server(data_dir, None, "sqlite")
    try:
        with developer_http(server, server.api_key) as client:
            job = wait_import(client, import_id)
            assert job["status"] == "completed" and job["report"]["images_imported"] == 1
            assert sorted(contents(client, name)) == ["a.png"]
    finally:
        server.stop()
    assert not any((data_dir / "imports").iterdir())


def test_cancelling_an_import(api: httpx.Client) -> None:
    name = dataset_name()
    entries: dict[str, bytes | str] = {}
    for index in range(60):
        entries[f"images/{index}.png"] = png_bytes(size=(400, 300), color=(index, 0, 0))
        entries[f"{index}.json"] = v7_file(f"{index}.png", [])
    response = post_zip(api, zip_bytes(entries), name)
    assert response.status_code == 202
    import_id = response.json()["id"]
    cancelled = api.post(f"/imports/{import_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    job = wait_import(api, import_id)
    assert job["status"] in ("cancelled", "completed")
    if job["status"] == "cancelled":
        assert job["progress"]["processed"] < 60


# ───────────── round trips through each format's own writer ─────────────

ROUND_TRIP_FORMATS = ["pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme"]


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
def test_what_each_writer_writes_imports_back(api: httpx.Client, fmt: str) -> None:
    if not reader_available(fmt):
        pytest.skip(f"the {fmt} reader (pictograph.formats.{fmt}) is not written yet")
    from pictograph.formats import get_writer
    from pictograph.formats.base import ArchiveWriter, ClassInfo, ExportImage
    from pictograph.models.annotation import BBoxAnnotation, PolygonAnnotation, PolygonGeometry
    from pictograph.models.common import BoundingBox, Point

    square = [Point(x=10, y=10), Point(x=30, y=10), Point(x=30, y=30), Point(x=10, y=30)]
    originals: dict[tuple[str, str], list[BBoxAnnotation | PolygonAnnotation]] = {
        ("/", "a.png"): [
            BBoxAnnotation(name="car", bounding_box=BoundingBox(x=2, y=3, w=20, h=10)),
            PolygonAnnotation(name="road", polygon=PolygonGeometry(paths=[square])),
        ],
        ("/night", "b.png"): [BBoxAnnotation(name="car", bounding_box=BoundingBox(x=5, y=5, w=8, h=8))],
        ("/", "c.png"): [],
    }
    def opener(data: bytes) -> Callable[[], IO[bytes]]:
        return lambda: io.BytesIO(data)

    images = [
        ExportImage(
            id=f"img{index}", filename=filename, folder=folder, width=64, height=48, status="complete",
            annotations=list(shapes), open_bytes=opener(png_bytes(color=(index * 50, 10, 10))),
        )
        for index, ((folder, filename), shapes) in enumerate(originals.items())
    ]
    classes = [ClassInfo(1, "car", "bbox", "#ff0000"), ClassInfo(2, "road", "polygon", "#00ff00")]
    buffer = io.BytesIO()
    with ArchiveWriter(buffer) as archive:
        get_writer(fmt).write(iter(images), classes, archive, dataset_name="round-trip", include_images=True)
    name = dataset_name()
    report = import_zip(api, buffer.getvalue(), name, format=fmt)["report"]
    assert report["images_imported"] == 3 and report["images_failed"] == 0, report
    assert report["errors"] == [], report["errors"]
    stored = contents(api, name)
    by_file = {key.rsplit("/", 1)[-1]: value for key, value in stored.items()}
    assert sorted(by_file) == ["a.png", "b.png", "c.png"]
    for (_folder, filename), shapes in originals.items():
        got = sorted(by_file[filename], key=lambda a: (a["name"], a["type"]))
        want = sorted(shapes, key=lambda a: (a.name, a.type))
        assert [(a["name"], a["type"]) for a in got] == [(a.name, a.type) for a in want], (fmt, filename, got)
        for g, w in zip(got, want, strict=True):
            if w.type == "bbox":
                box = w.bounding_box
                assert all(
                    abs(g["bounding_box"][k] - getattr(box, k)) <= 0.51 for k in ("x", "y", "w", "h")
                ), (fmt, g, w)
            else:
                ring = g["polygon"]["paths"][0]
                xs, ys = [p["x"] for p in ring], [p["y"] for p in ring]
                assert abs(min(xs) - 10) <= 0.51 and abs(max(xs) - 30) <= 1.01, (fmt, ring)
                assert abs(min(ys) - 10) <= 0.51 and abs(max(ys) - 30) <= 1.01, (fmt, ring)
