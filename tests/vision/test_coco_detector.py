"""The bundled SSD-MobileNet-v2 COCO detector: class map, colour order, thresholds and NMS."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from pictograph.vision.base import Prediction
from pictograph.vision.coco_detector import (
    COCO_CLASSES,
    CocoDetector,
    box_iou,
    load,
    suppress,
)
from pictograph.vision.registry import get_spec, locate


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> CocoDetector:
    location, reason = locate(get_spec("ssd-mobilenet-v2-coco"), tmp_path_factory.mktemp("m"))
    if location is None:
        pytest.skip(reason or "detector weights missing")
    return load(location, "cpu")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return skimage_data.chelsea()


def test_classes_are_the_80_coco_names() -> None:
    assert len(COCO_CLASSES) == 80 == len(set(COCO_CLASSES))
    assert COCO_CLASSES[:3] == ("person", "bicycle", "car")
    assert COCO_CLASSES[-1] == "toothbrush"
    for name in ("traffic light", "stop sign", "sports ball", "dining table", "hair drier", "tv"):
        assert name in COCO_CLASSES


def test_finds_the_astronaut(detector: CocoDetector, astronaut: np.ndarray) -> None:
    found = detector.detect(astronaut, 0.5)
    people = [p for p in found if p.label == "person"]
    assert people and people[0].score > 0.7
    x1, y1, x2, y2 = people[0].box
    # She fills the left two thirds of the picture, head to bottom edge.
    assert x1 < 50 and y1 < 50 and 300 < x2 < 420 and y2 > 480


def test_finds_the_cat(detector: CocoDetector, chelsea: np.ndarray) -> None:
    found = detector.detect(chelsea, 0.5)
    assert found[0].label == "cat" and found[0].score > 0.8
    assert found[0].mask is None
    height, width = chelsea.shape[:2]
    x1, y1, x2, y2 = found[0].box
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    assert (x2 - x1) * (y2 - y1) > 0.6 * width * height


def test_threshold_is_respected_and_results_are_sorted(
    detector: CocoDetector, chelsea: np.ndarray
) -> None:
    low = detector.detect(chelsea, 0.05)
    assert len(low) > 2
    assert all(p.score >= 0.05 for p in low)
    assert [p.score for p in low] == sorted((p.score for p in low), reverse=True)
    assert all(p.label in COCO_CLASSES for p in low)
    cat_score = max(p.score for p in low if p.label == "cat")
    assert detector.detect(chelsea, cat_score + 0.01) == [
        p for p in low if p.score >= cat_score + 0.01
    ]


def test_concurrent_calls_agree(detector: CocoDetector, astronaut: np.ndarray) -> None:
    expected = detector.detect(astronaut, 0.3)
    results: list[list[Prediction]] = []

    def run() -> None:
        results.append(detector.detect(astronaut, 0.3))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        assert [(p.label, p.box) for p in result] == [(p.label, p.box) for p in expected]


class RecordingNet:
    """Stands in for the OpenCV net: keeps the blob it gets and returns fixed rows."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = np.array([[rows]], dtype=np.float32)
        self.blob: Any = None

    def setInput(self, blob: Any) -> None:
        self.blob = blob

    def forward(self) -> np.ndarray:
        return self.rows


def test_net_sees_rgb_and_rows_map_to_pixels() -> None:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[..., 0] = 255  # pure red
    net = RecordingNet(
        [
            [0, 17, 0.9, 0.1, 0.2, 0.5, 1.3],  # cat, bottom beyond the image
            [0, 12, 0.8, 0.0, 0.0, 0.5, 0.5],  # a gap in the TF id map: no class
            [0, 1, 0.2, 0.0, 0.0, 0.5, 0.5],  # below the threshold
            [0, 90, 0.6, 0.5, 0.5, 0.5, 0.9],  # zero width
        ]
    )
    found = CocoDetector(net).detect(image, 0.3)
    assert net.blob.shape == (1, 3, 300, 300)
    assert net.blob[0, 0].min() == 255 and net.blob[0, 2].max() == 0  # channel 0 is red
    assert [(p.label, p.box, p.score) for p in found] == [
        ("cat", pytest.approx((20.0, 20.0, 100.0, 100.0)), pytest.approx(0.9))
    ]
    assert all(isinstance(v, float) for v in found[0].box)


def test_nms_is_per_class() -> None:
    def pred(box: tuple[float, float, float, float], score: float, label: str) -> Prediction:
        return Prediction(box=box, score=score, label=label)

    kept = suppress(
        [
            pred((0, 0, 100, 100), 0.6, "dog"),
            pred((5, 5, 105, 105), 0.9, "dog"),  # overlaps the first: IoU 0.82
            pred((5, 5, 105, 105), 0.7, "cat"),  # same box, other class: kept
            pred((60, 0, 160, 100), 0.5, "dog"),  # IoU 0.29 with the best dog: kept
        ],
        0.5,
    )
    assert [(p.label, p.score) for p in kept] == [("dog", 0.9), ("cat", 0.7), ("dog", 0.5)]


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
