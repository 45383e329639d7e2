"""A mask as each output type: the documented derivations of bbox, polygon, polyline and keypoint."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pictograph.formats._masks import polygon_to_mask
from pictograph.models.annotation import ANNOTATION_LIST
from pictograph.vision.base import Prediction
from pictograph.vision.shapes import (
    mask_to_keypoint,
    mask_to_polyline,
    mask_to_rings,
    to_annotation,
)

H, W = 120, 160


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def rasterise(rings: list[list[tuple[float, float]]]) -> np.ndarray:
    return polygon_to_mask(rings, H, W)


def ring_mask() -> np.ndarray:
    mask = np.zeros((H, W), dtype=np.uint8)
    cv2.circle(mask, (80, 60), 45, 1, -1)
    cv2.circle(mask, (80, 60), 20, 0, -1)
    return mask.astype(bool)


def test_polygon_keeps_holes_and_matches_the_mask() -> None:
    mask = ring_mask()
    rings = mask_to_rings(mask)
    assert len(rings) == 2  # outline, then the hole
    assert iou(rasterise(rings), mask) >= 0.95
    assert not rasterise(rings)[60, 80]  # the hole's centre stays empty


def test_tolerance_simplifies_the_outline() -> None:
    mask = ring_mask()
    exact = mask_to_rings(mask, tolerance=0.0)
    loose = mask_to_rings(mask, tolerance=2.0)
    assert len(loose[0]) < len(mask_to_rings(mask)[0]) < len(exact[0])
    assert iou(rasterise(loose), mask) >= 0.9


def test_separate_parts_are_kept_and_specks_dropped() -> None:
    mask = np.zeros((H, W), dtype=bool)
    mask[10:50, 10:50] = True
    mask[70:100, 100:140] = True
    mask[5, 150] = True  # a one-pixel speck
    rings = mask_to_rings(mask)
    assert len(rings) == 2
    assert abs(min(x for x, _ in rings[0]) - 10) <= 1  # the larger square comes first
    assert iou(rasterise(rings), mask & ~(np.arange(W)[None, :] == 150)) >= 0.95


def test_polyline_follows_a_thin_curve() -> None:
    mask = np.zeros((H, W), dtype=np.uint8)
    cv2.polylines(mask, [np.array([[10, 100], [60, 30], [150, 30]], dtype=np.int32)], False, 1, 5)
    line = mask_to_polyline(mask.astype(bool))
    ends = sorted([line[0], line[-1]])
    assert abs(ends[0][0] - 10) <= 5 and abs(ends[0][1] - 100) <= 5
    assert abs(ends[1][0] - 150) <= 5 and abs(ends[1][1] - 30) <= 5
    assert 3 <= len(line) <= 10  # simplified to the corners, not every pixel
    assert all(mask[int(y), int(x)] for x, y in line)


def test_keypoint_lies_inside_a_non_convex_shape() -> None:
    mask = np.zeros((H, W), dtype=bool)
    mask[20:100, 20:50] = True  # a "C": its centroid falls in the empty middle
    mask[20:40, 20:140] = True
    mask[80:100, 20:140] = True
    x, y = mask_to_keypoint(mask)
    assert mask[int(y), int(x)]
    assert mask_to_keypoint(np.zeros((H, W), dtype=bool)) is None


@pytest.mark.parametrize("output_type", ["bbox", "polygon", "polyline", "keypoint"])
def test_annotations_validate_as_the_wire_format(output_type: str) -> None:
    mask = ring_mask()
    prediction = Prediction((0, 0, W, H), 0.87, mask, "donut")
    annotation = to_annotation(prediction, "donut", output_type, created_by="auto_label:job")
    (parsed,) = ANNOTATION_LIST.validate_python([annotation])
    assert parsed.type == output_type and parsed.name == "donut" and parsed.confidence == 0.87
    if output_type != "keypoint":
        box = annotation["bounding_box"]
        assert (box["x"], box["y"], box["w"], box["h"]) == (35.0, 15.0, 91.0, 91.0)


def test_boxes_only_prediction() -> None:
    prediction = Prediction((5, 6, 25, 36), 0.5)
    assert to_annotation(prediction, "car", "bbox")["bounding_box"] == {
        "x": 5,
        "y": 6,
        "w": 20,
        "h": 30,
    }
    assert to_annotation(prediction, "car", "polygon") is None
    assert to_annotation(Prediction((5, 5, 5, 9), 0.5), "car", "bbox") is None
