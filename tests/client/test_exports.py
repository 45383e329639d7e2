"""``client.exports`` against the live server: every format built, downloaded and opened.

The dataset holds four images of 64×48 pixels:

- ``a.png`` (root, complete): a car box, a road polygon with a hole, a lane polyline, an eye keypoint
- ``b.png`` (root, review → "in_progress"): a car box
- ``c.png`` (root, new): nothing
- ``d.png`` (``/cars``, complete): a road triangle and a car box
"""

from __future__ import annotations

import csv
import importlib.util
import inspect
import io
import json
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml

from pictograph import Client
from pictograph.exceptions import (
    ConflictError,
    NotFoundError,
    PollTimeoutError,
    ValidationError,
)
from pictograph.formats import EXPORT_FORMATS
from pictograph.models.export import Export
from tests.client.conftest import CLASSES, write_image
from tests.live_server import LiveServer, start_server

ROAD_OUTER = [(5, 5), (45, 5), (45, 40), (5, 40)]
ROAD_HOLE = [(15, 15), (25, 15), (25, 25), (15, 25)]
ROAD_AREA = 40 * 35 - 10 * 10
TRIANGLE = [(2, 2), (30, 2), (2, 30)]
TRIANGLE_AREA = 28 * 28 / 2


def ring(points: list[tuple[float, float]]) -> list[dict[str, float]]:
    return [{"x": x, "y": y} for x, y in points]


def car(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"name": "car", "type": "bbox", "bounding_box": {"x": x, "y": y, "w": w, "h": h}}


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(sdk: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"exports-{uuid.uuid4().hex[:8]}"
    project = sdk.projects.create(
        name, annotation_types=["bbox", "polygon", "polyline", "keypoint"], classes=CLASSES
    )
    folder = tmp_path_factory.mktemp("export-images")
    images = {
        key: sdk.images.upload(
            project.id,
            write_image(folder / f"{key}.png", seed=index),
            folder_path="/cars" if key == "d" else "/",
        )
        for index, key in enumerate("abcd")
    }
    sdk.annotations.save(
        images["a"].id,
        [
            car(10, 10, 20, 15),
            {"name": "road", "type": "polygon",
             "polygon": {"paths": [ring(ROAD_OUTER), ring(ROAD_HOLE)]}},
            {"name": "lane", "type": "polyline",
             "polyline": {"path": ring([(1, 1), (30, 30), (60, 2)])}},
            {"name": "eye", "type": "keypoint", "keypoint": {"x": 12, "y": 12}},
        ],
    )  # fmt: skip
    sdk.annotations.save(images["b"].id, [car(3, 3, 8, 8)])
    sdk.batch.update(name, [images["b"].id], status="review")
    sdk.annotations.save(
        images["d"].id,
        [{"name": "road", "type": "polygon", "polygon": {"paths": [ring(TRIANGLE)]}},
         car(5, 5, 10, 10)],
    )  # fmt: skip
    yield name
    try:
        sdk.projects.delete(name)
    except NotFoundError:
        pass


def new_name() -> str:
    return f"e-{uuid.uuid4().hex[:8]}"


def open_zip(path: Path) -> zipfile.ZipFile:
    assert path.is_file() and not path.with_name(path.name + ".part").exists()
    return zipfile.ZipFile(path)


def basenames(archive: zipfile.ZipFile) -> set[str]:
    return {PurePosixPath(name).name for name in archive.namelist()}


# ───────────── every format, opened by its own rules ─────────────


def check_pictograph(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    meta = json.loads(archive.read("dataset.json"))
    assert [(c["id"], c["name"]) for c in meta["classes"]] == [
        (1, "car"), (2, "road"), (3, "lane"), (4, "eye"),
    ]  # fmt: skip
    a = json.loads(archive.read("annotations/a.png.json"))
    d = json.loads(archive.read("annotations/cars/d.png.json"))
    assert [x["type"] for x in a["annotations"]] == ["bbox", "polygon", "polyline", "keypoint"]
    assert len(a["annotations"][1]["polygon"]["paths"]) == 2  # the hole survives
    assert [x["name"] for x in d["annotations"]] == ["road", "car"]
    assert {"images/a.png", "images/cars/d.png"} <= set(archive.namelist())


def check_coco(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    documents = []
    for name in archive.namelist():
        if name.endswith(".json"):
            data = json.loads(archive.read(name))
            if isinstance(data, dict) and {"images", "annotations", "categories"} <= set(data):
                documents.append((name, data))
    assert documents, f"no COCO annotation file in {archive.namelist()}"
    images: dict[str, Any] = {}
    by_image: dict[str, list[dict[str, Any]]] = {}
    for name, data in documents:
        path = tmp_path / PurePosixPath(name).name
        path.write_text(json.dumps(data))
        coco = COCO(str(path))  # pycocotools itself must accept the file
        names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
        assert {"car", "road"} <= names
        for image in coco.loadImgs(coco.getImgIds()):
            key = PurePosixPath(image["file_name"]).name
            images[key] = image
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            by_image[key] = [{**ann, "_mask_area": _mask_area(coco, ann, mask_utils)} for ann in anns]
            cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
            for ann in by_image[key]:
                ann["_class"] = cats[ann["category_id"]]
    assert set(images) == {"a.png", "d.png"}
    assert (images["a.png"]["width"], images["a.png"]["height"]) == (64, 48)
    cars = [ann for anns in by_image.values() for ann in anns if ann["_class"] == "car"]
    assert len(cars) == 2 and sorted(tuple(round(v) for v in c["bbox"]) for c in cars) == [
        (5, 5, 10, 10), (10, 10, 20, 15),
    ]  # fmt: skip
    road_a = [ann for ann in by_image["a.png"] if ann["_class"] == "road"]
    road_d = [ann for ann in by_image["d.png"] if ann["_class"] == "road"]
    assert len(road_a) == 1 and len(road_d) == 1
    # The polygon with a hole decodes to its outline less the hole.
    assert abs(road_a[0]["_mask_area"] - ROAD_AREA) <= 0.08 * ROAD_AREA, road_a[0]
    assert abs(road_d[0]["_mask_area"] - TRIANGLE_AREA) <= 0.12 * TRIANGLE_AREA, road_d[0]
    assert "a.png" in basenames(archive) and "d.png" in basenames(archive)


def _mask_area(coco: Any, ann: dict[str, Any], mask_utils: Any) -> int | None:
    if not ann.get("segmentation"):
        return None
    return int(coco.annToMask(ann).sum())


def check_yolo(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    yamls = [n for n in archive.namelist() if n.endswith((".yaml", ".yml"))]
    assert yamls, archive.namelist()
    config = yaml.safe_load(archive.read(yamls[0]))
    names = config["names"]
    names = list(names.values()) if isinstance(names, dict) else list(names)
    assert {"car", "road"} <= set(names)
    labels = {PurePosixPath(n).stem: n for n in archive.namelist() if n.endswith(".txt")}
    assert {"a", "d"} <= set(labels), archive.namelist()
    for stem in ("a", "d"):
        lines = archive.read(labels[stem]).decode().split("\n")
        rows = [line.split() for line in lines if line.strip()]
        assert len(rows) >= 2
        for row in rows:
            assert 0 <= int(row[0]) < len(names)
            assert all(0.0 <= float(v) <= 1.0 for v in row[1:]), row
    assert "a.png" in basenames(archive) and "d.png" in basenames(archive)


def check_cvat(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    root = ET.fromstring(archive.read("annotations.xml"))
    assert root.tag == "annotations"
    labels = {label.findtext("name") for label in root.iter("label")}
    assert {"car", "road", "lane", "eye"} <= labels
    images = {PurePosixPath(image.get("name", "")).name: image for image in root.iter("image")}
    assert set(images) == {"a.png", "d.png"}
    assert {child.tag for child in images["a.png"]} >= {"box", "polygon", "polyline", "points"}
    assert {"images/a.png", "images/cars/d.png"} <= set(archive.namelist())


def check_pascal_voc(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    documents = {}
    for name in archive.namelist():
        if name.endswith(".xml"):
            root = ET.fromstring(archive.read(name))
            if root.tag == "annotation":
                documents[PurePosixPath(root.findtext("filename") or name).name] = root
    assert {"a.png", "d.png"} <= set(documents), archive.namelist()
    objects = [o.findtext("name") for o in documents["d.png"].iter("object")]
    assert sorted(objects) == ["car", "road"]
    for obj in documents["a.png"].iter("object"):
        box = obj.find("bndbox")
        if box is not None:
            assert float(box.findtext("xmin")) <= float(box.findtext("xmax"))
    assert "a.png" in basenames(archive) and "d.png" in basenames(archive)


def check_labelme(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    a = json.loads(archive.read("images/a.json"))
    d = json.loads(archive.read("images/cars/d.json"))
    assert a["imagePath"] == "a.png" and (a["imageWidth"], a["imageHeight"]) == (64, 48)
    kinds = {(s["label"], s["shape_type"]) for s in a["shapes"]}
    assert {("car", "rectangle"), ("road", "polygon"), ("lane", "linestrip"), ("eye", "point")} <= kinds
    assert sorted(s["label"] for s in d["shapes"]) == ["car", "road"]
    assert {"images/a.png", "images/cars/d.png"} <= set(archive.namelist())


def check_csv(archive: zipfile.ZipFile, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(archive.read("annotations.csv").decode())))
    assert sorted((r["filename"], r["class"]) for r in rows) == [("a.png", "car"), ("d.png", "car")]
    a = next(r for r in rows if r["filename"] == "a.png")
    assert tuple(float(a[k]) for k in ("x", "y", "w", "h")) == (10, 10, 20, 15)
    assert {"images/a.png", "images/cars/d.png"} <= set(archive.namelist())


CHECKS = {
    "pictograph": check_pictograph,
    "coco": check_coco,
    "yolo": check_yolo,
    "cvat": check_cvat,
    "pascal_voc": check_pascal_voc,
    "labelme": check_labelme,
    "csv": check_csv,
}


def test_every_export_format_has_a_check() -> None:
    assert set(CHECKS) == set(EXPORT_FORMATS)


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
def test_export_each_format_then_open_it(
    sdk: Client, dataset: str, export_format: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec(f"pictograph.formats.{export_format}") is None:
        pytest.skip(f"pictograph/formats/{export_format}.py is not written yet")
    export = sdk.exports.create(
        dataset, new_name(), format=export_format, wait=True, poll_interval=0.1, timeout=60
    )  # type: ignore[arg-type]
    assert export.status == "completed" and export.format == export_format
    assert (export.image_count, export.annotation_count) == (2, 6)
    assert export.include_images is True and export.status_filter == "complete"
    assert export.download_url and export.file_size
    output = sdk.exports.download(dataset, export.name, tmp_path / "out" / "export.zip")
    assert output.stat().st_size == export.file_size
    with open_zip(output) as archive:
        assert archive.testzip() is None
        CHECKS[export_format](archive, tmp_path)


# ───────────── the documented semantics ─────────────


def test_create_defaults_are_the_documented_ones() -> None:
    from pictograph.client.resources.exports import Exports

    params = inspect.signature(Exports.create).parameters
    defaults = {name: params[name].default for name in (
        "format", "include_images", "class_filter", "status_filter", "wait", "poll_interval", "timeout",
    )}  # fmt: skip
    assert defaults == {
        "format": "pictograph", "include_images": True, "class_filter": None,
        "status_filter": "complete", "wait": True, "poll_interval": 2.0, "timeout": 600.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status_filter", "images", "annotations"),
    [("complete", 2, 6), ("in_progress", 1, 1), ("new", 1, 0), ("all", 4, 7)],
)
def test_status_filter(
    sdk: Client, dataset: str, status_filter: str, images: int, annotations: int
) -> None:
    export = sdk.exports.create(
        dataset, new_name(), status_filter=status_filter, include_images=False, poll_interval=0.1
    )
    assert (export.image_count, export.annotation_count) == (images, annotations)


def test_class_filter_keeps_matching_images_without_annotations(
    sdk: Client, dataset: str, tmp_path: Path
) -> None:
    export = sdk.exports.create(dataset, new_name(), class_filter=["eye"], poll_interval=0.1)
    assert export.class_filter == ["eye"]
    assert (export.image_count, export.annotation_count) == (2, 1)
    with open_zip(sdk.exports.download(dataset, export.name, tmp_path / "eye.zip")) as archive:
        a = json.loads(archive.read("annotations/a.png.json"))["annotations"]
        d = json.loads(archive.read("annotations/cars/d.png.json"))["annotations"]
    assert [x["name"] for x in a] == ["eye"] and d == []


def test_wait_false_then_wait_for_completion(sdk: Client, dataset: str) -> None:
    name = new_name()
    created = sdk.exports.create(dataset, name, format="pictograph", wait=False)
    assert isinstance(created, Export) and created.status in ("pending", "processing")
    assert created.download_url is None
    polls: list[Export] = []
    done = sdk.exports.wait_for_completion(
        dataset, name, timeout=60, poll_interval=0.1, progress=polls.append
    )
    assert done.status == "completed" and done.id == created.id and polls[-1].status == "completed"
    assert done.progress is not None and done.progress.processed == done.image_count == 2
    # The signed URL is the credential: it works without the API key.
    response = httpx.get(done.download_url or "")
    assert response.status_code == 200 and response.content[:2] == b"PK"


def test_list_iter_get(sdk: Client, dataset: str) -> None:
    names = [sdk.exports.create(dataset, new_name(), include_images=False, poll_interval=0.1).name
             for _ in range(3)]  # fmt: skip
    listed = sdk.exports.list(limit=1000)
    assert set(names) <= {e.name for e in listed}
    assert all(e.dataset_name for e in listed)
    paged = [e.name for e in sdk.exports.iter(page_size=2, dataset_name=dataset)]
    assert set(names) <= set(paged) and len(paged) == len(set(paged))
    assert len(list(sdk.exports.iter(page_size=2, max_total=3))) == 3
    assert len(sdk.exports.list(limit=2)) == 2
    got = sdk.exports.get(dataset, names[0])
    assert got.name == names[0] and got.status == "completed" and got.download_url


def test_errors(sdk: Client, dataset: str) -> None:
    name = new_name()
    sdk.exports.create(dataset, name, include_images=False, wait=False)
    with pytest.raises(ConflictError):
        sdk.exports.create(dataset, name, wait=False)
    with pytest.raises(ValidationError) as bad_format:
        sdk.exports.create(dataset, new_name(), format="tfrecord", wait=False)  # type: ignore[arg-type]
    assert bad_format.value.status_code == 422 and bad_format.value.errors[0]["loc"] == ["format"]
    with pytest.raises(ValidationError) as bad_status:
        sdk.exports.create(dataset, new_name(), status_filter="done", wait=False)
    assert bad_status.value.errors[0]["loc"] == ["status_filter"]
    with pytest.raises(NotFoundError):
        sdk.exports.create("no-such-dataset", new_name(), wait=False)
    with pytest.raises(NotFoundError):
        sdk.exports.get(dataset, "no-such-export")
    with pytest.raises(NotFoundError):
        sdk.exports.download(dataset, "no-such-export", "never.zip")
    with pytest.raises(ValueError):
        sdk.exports.wait_for_completion(dataset, name, timeout=0)


def test_delete_removes_the_zip(sdk: Client, dataset: str, live_server: LiveServer) -> None:
    export = sdk.exports.create(dataset, new_name(), poll_interval=0.1)
    blob = live_server.data_dir / "blobs" / "exports" / str(export.organization_id) / f"{export.id}.zip"
    assert blob.is_file()
    result = sdk.exports.delete(dataset, export.name)
    assert result["deleted"] is True
    assert not blob.exists()
    with pytest.raises(NotFoundError):
        sdk.exports.get(dataset, export.name)


# ───────────── a server whose jobs never run: polling limits ─────────────


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A SQLite server with no job workers: every export stays pending."""
    server = start_server(tmp_path_factory.mktemp("idle"), None, "sqlite", PICTOGRAPH_JOB_WORKERS="0")
    yield server
    server.stop()


def test_poll_timeout_carries_the_export_id(idle_server: LiveServer, tmp_path: Path) -> None:
    with Client(api_key=idle_server.api_key, base_url=idle_server.base_url) as sdk:
        sdk.projects.create("idle", classes=[{"name": "car"}])
        name = new_name()
        with pytest.raises(PollTimeoutError) as timed_out:
            sdk.exports.create("idle", name, timeout=0.3, poll_interval=0.1)
        export = sdk.exports.get("idle", name)
        assert export.status == "pending"
        assert timed_out.value.job_id == export.id and timed_out.value.timeout == 0.3
        with pytest.raises(PollTimeoutError) as again:
            sdk.exports.wait_for_completion("idle", name, timeout=0.2, poll_interval=0.05)
        assert again.value.job_id == export.id
        with pytest.raises(ConflictError):
            sdk.exports.download("idle", name, tmp_path / "not-ready.zip")
        assert not (tmp_path / "not-ready.zip").exists()
