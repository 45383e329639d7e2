"""A trained model (an ONNX file a training run produced) as a text detector.

Its "prompts" are its own class names, so the auto-label job runs it exactly like the
foundation models: the ontology maps each class the model knows to a dataset class, the
engine segments boxes when a detector-only model is asked for polygons, and NMS, thresholds
and output types work the same. Semantic segmentation maps become one instance per
connected region of a class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pictograph.training.predict import TrainedModel
from pictograph.vision.base import Prediction, RGBImage, TextDetector, box_of_mask

MIN_REGION_PIXELS = 16
"""Smaller blobs of a semantic map are noise, not objects."""


class TrainedDetector(TextDetector):
    def __init__(self, name: str, path: Path, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self.model = TrainedModel(path, device)
        self.classes: tuple[str, ...] = tuple(self.model.classes)
        self.makes_masks = self.model.model_type in ("instance_segmentation", "semantic_segmentation")

    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        wanted = set(prompts)
        answer = self.model.predict(image, threshold)
        found = [
            Prediction(d.box, d.score, d.mask, self.classes[d.class_index])
            for d in answer.detections
            if self.classes[d.class_index] in wanted
        ]
        if answer.class_map is not None:
            found += self._regions(answer.class_map, wanted)
        return found

    def _regions(self, class_map: np.ndarray, wanted: set[str]) -> list[Prediction]:
        regions: list[Prediction] = []
        for index, name in enumerate(self.classes):
            if name not in wanted:
                continue
            count, labels = cv2.connectedComponents((class_map == index + 1).astype(np.uint8))
            for label in range(1, count):
                mask = labels == label
                box = box_of_mask(mask)
                if box is not None and int(mask.sum()) >= MIN_REGION_PIXELS:
                    regions.append(Prediction(box, 1.0, mask, name))
        return regions
