"""Drawn test images whose true masks are known exactly, for measuring segmenters and checks.

Every shape is drawn with OpenCV into a fresh mask and then painted onto the background
through that mask, so the mask *is* the ground truth pixel for pixel. Backgrounds are plain
or textured (smoothed noise plus stripes) so a segmenter cannot win by thresholding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

SHAPES = ("circle", "rectangle", "triangle", "ellipse")
BACKGROUNDS = ("plain", "textured")

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class DrawnShape:
    """An RGB image with one painted shape and that shape's exact mask."""

    image: npt.NDArray[np.uint8]
    mask: npt.NDArray[np.bool_]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The shape's tight (x1, y1, x2, y2) box, x2 / y2 exclusive."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)

    @property
    def interior_point(self) -> tuple[float, float]:
        """The (x, y) deepest inside the shape: where a user would click."""
        distance = cv2.distanceTransform(self.mask.astype(np.uint8), cv2.DIST_L2, 5)
        y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
        return float(x), float(y)


def background(
    kind: str, size: tuple[int, int] = (300, 400), seed: int = 0
) -> npt.NDArray[np.uint8]:
    """A (height, width) RGB background: one flat grey-green, or smoothed coloured noise."""
    height, width = size
    if kind == "plain":
        return np.full((height, width, 3), (150, 165, 140), dtype=np.uint8)
    if kind != "textured":
        raise ValueError(f"unknown background {kind!r}")
    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 200, size=(height, width, 3)).astype(np.uint8)
    noise = cv2.GaussianBlur(noise, (0, 0), 3)
    stripes = (np.sin(np.arange(width) / 9.0) * 25).astype(np.int16)[None, :, None]
    return np.clip(noise.astype(np.int16) + stripes, 0, 255).astype(np.uint8)


def shape_mask(
    kind: str, size: tuple[int, int] = (300, 400), scale: float = 1.0
) -> npt.NDArray[np.bool_]:
    """One shape's mask, placed off-centre; at ``scale`` 1 it covers 10–20 % of the image."""
    height, width = size
    canvas = np.zeros((height, width), dtype=np.uint8)
    cx, cy = int(width * 0.45), int(height * 0.55)
    r = int(min(height, width) * 0.25 * scale)
    if kind == "circle":
        cv2.circle(canvas, (cx, cy), r, 1, thickness=-1)
    elif kind == "rectangle":
        cv2.rectangle(canvas, (cx - int(1.4 * r), cy - r // 2), (cx + r, cy + r), 1, thickness=-1)
    elif kind == "triangle":
        corners = np.array([[cx, cy - r], [cx + r, cy + r], [cx - int(1.2 * r), cy + r]])
        cv2.fillPoly(canvas, [corners.astype(np.int32)], 1)
    elif kind == "ellipse":
        cv2.ellipse(canvas, (cx, cy), (int(1.5 * r), int(0.7 * r)), 20, 0, 360, 1, thickness=-1)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return canvas.astype(bool)


def draw_shape(
    kind: str,
    background_kind: str = "plain",
    colour: RGB = (200, 40, 40),
    size: tuple[int, int] = (300, 400),
    scale: float = 1.0,
    seed: int = 0,
) -> DrawnShape:
    """One shape of a flat ``colour`` on a background; the returned mask is exact."""
    image = background(background_kind, size, seed)
    mask = shape_mask(kind, size, scale)
    image[mask] = colour
    return DrawnShape(image=image, mask=mask)


def mask_iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)
