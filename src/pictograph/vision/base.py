"""The shapes every model backend speaks, so the engine can swap one backend for another.

Images are RGB ``uint8`` arrays of shape ``(height, width, 3)``. Coordinates are image
pixels: a box is ``(x1, y1, x2, y2)``, a point ``(x, y)``. Masks are ``bool`` arrays of the
image's own ``(height, width)``. Three roles:

- :class:`PromptSegmenter` — point / box prompts → one mask. The expensive image encoder runs
  in :meth:`~PromptSegmenter.embed`; its result is cached by the engine, so later prompts on
  the same image run only the prompt decoder.
- :class:`TextDetector` — free-text prompts → instances (boxes, with masks when the model
  makes them; otherwise the engine asks the segmenter for each box).
- :class:`ClosedSetDetector` — a fixed class list → instances (the ``yolo`` model type).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Box = tuple[float, float, float, float]
"""(x1, y1, x2, y2) in image pixels."""
PointXY = tuple[float, float]
RGBImage = npt.NDArray[np.uint8]
BoolMask = npt.NDArray[np.bool_]


@dataclass
class Prediction:
    """One object a model found: its box, its mask when known, its score and its label."""

    box: Box
    score: float
    """Detection confidence, or the segmenter's predicted IoU, in [0, 1]."""
    mask: BoolMask | None = None
    label: str | None = None
    """The class name (closed-set) or the prompt (open vocabulary) this prediction answers."""


@dataclass
class ImageEmbedding:
    """What a segmenter's image encoder made of one image; opaque to everyone but that backend."""

    model: str
    image_size: tuple[int, int]
    """(height, width) of the encoded image."""
    data: Any
    nbytes: int
    """Memory it holds, for the engine's bounded cache."""


class Backend(ABC):
    """Common to every loaded model: its registry name and where it runs."""

    name: str
    device: str = "cpu"


class PromptSegmenter(Backend):
    """Point / box prompts → one mask, over a cached image embedding."""

    @abstractmethod
    def embed(self, image: RGBImage) -> ImageEmbedding:
        """Run the image encoder once; every prompt on this image reuses the result."""

    @abstractmethod
    def segment_boxes(
        self,
        embedding: ImageEmbedding,
        boxes: Sequence[Box],
        negative_boxes: Sequence[Box] = (),
    ) -> list[Prediction]:
        """One prediction per box, in order (score = predicted mask quality)."""

    @abstractmethod
    def segment_points(
        self,
        embedding: ImageEmbedding,
        positives: Sequence[PointXY],
        negatives: Sequence[PointXY] = (),
    ) -> Prediction | None:
        """The object under the positive points and clear of the negative ones; None if none."""


class TextDetector(Backend):
    """Open-vocabulary (or prompt-matched) detection: prompts → instances."""

    makes_masks: bool = False
    """True when :meth:`detect` returns masks itself (SAM 3); otherwise the engine segments boxes."""

    @abstractmethod
    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        """Instances scoring at least ``threshold``; ``label`` is the prompt each one answers.

        A backend that cannot segment leaves ``mask`` as None and the engine segments the box.
        """

    def needs_mask(self, prompt: str) -> bool:
        """Whether :meth:`accepts` reads the mask for this prompt (the engine then segments
        its instances even when only boxes were asked for)."""
        return False

    def accepts(self, image: RGBImage, prediction: Prediction) -> bool:
        """A last check once the engine has the prediction's mask (a colour word, say)."""
        return True


class ClosedSetDetector(Backend):
    """A detector with a fixed class list (the bundled COCO detector, a trained model)."""

    classes: tuple[str, ...]

    @abstractmethod
    def detect(self, image: RGBImage, threshold: float) -> list[Prediction]:
        """Instances scoring at least ``threshold``; ``label`` is one of :attr:`classes`."""


def box_of_mask(mask: BoolMask) -> Box | None:
    """The tight pixel box around a mask's pixels (x2 / y2 exclusive); None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def clip_box(box: Box, height: int, width: int) -> Box:
    """The box clipped to the image."""
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def cut_out_boxes(mask: BoolMask, boxes: Sequence[Box]) -> BoolMask:
    """The mask without every pixel any of ``boxes`` touches: how negative boxes apply, since
    the segmenters' decoders have no negative-box input."""
    height, width = mask.shape
    for x1, y1, x2, y2 in boxes:
        top, left = max(int(np.floor(y1)), 0), max(int(np.floor(x1)), 0)
        bottom, right = min(int(np.ceil(y2)), height), min(int(np.ceil(x2)), width)
        mask[top:bottom, left:right] = False
    return mask
