"""A predicted mask as each annotation ``output_type``: bbox, polygon, polyline, keypoint.

How each shape is derived (the documented rule, in image pixel coordinates):

- ``bbox`` — the tight box around the mask's pixels (the detector's box when there is no mask).
- ``polygon`` — the mask's boundary traced along pixel edges (vertices on pixel corners, so the
  unsimplified polygon covers exactly the mask's pixels; the tracing the COCO format uses),
  simplified by Douglas–Peucker with ``tolerance`` pixels.
  The largest part comes first with its holes; other parts of at least
  :data:`MIN_PART_FRACTION` of its area follow with theirs, and the rings are filled by the
  even-odd rule (so holes stay holes). Parts and holes under :data:`MIN_RING_AREA` px² are noise
  and dropped.
- ``polyline`` — the longest path along the skeleton of the mask's largest part (its medial
  line: the centre line of a crack, a cable, a road marking), simplified the same way; a part
  too thin to skeletonise gives its longest axis.
- ``keypoint`` — the pixel deepest inside the mask (the maximum of its distance transform), so
  the point lies inside the object even when the object is not convex.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any, Literal

import cv2
import numpy as np

from pictograph.formats._masks import mask_to_polygons, ring_area
from pictograph.vision.base import BoolMask, Box, Prediction, box_of_mask

OutputType = Literal["bbox", "polygon", "polyline", "keypoint"]
OUTPUT_TYPES: tuple[str, ...] = ("bbox", "polygon", "polyline", "keypoint")
DEFAULT_TOLERANCE = 1.0
"""Douglas–Peucker tolerance in pixels: within a pixel of the traced boundary."""
MIN_RING_AREA = 4.0
MIN_PART_FRACTION = 0.05
SKELETON_SIZE = 512

Ring = list[tuple[float, float]]


def _simplify(points: np.ndarray, tolerance: float, closed: bool) -> Ring:
    if tolerance > 0:
        points = cv2.approxPolyDP(points.reshape(-1, 1, 2).astype(np.float32), tolerance, closed)
    return [(float(x), float(y)) for x, y in points.reshape(-1, 2)]


def mask_to_rings(mask: BoolMask, tolerance: float = DEFAULT_TOLERANCE) -> list[Ring]:
    """Polygon rings (even-odd) of a mask: largest part and its holes first, then other parts."""
    parts: list[tuple[float, list[Ring]]] = []
    for outline, *holes in mask_to_polygons(mask):
        area = ring_area(outline)
        if area < MIN_RING_AREA:
            continue
        rings = [_simplify(np.asarray(outline), tolerance, closed=True)]
        rings += [
            _simplify(np.asarray(hole), tolerance, closed=True)
            for hole in holes
            if ring_area(hole) >= MIN_RING_AREA
        ]
        parts.append((area, [ring for ring in rings if len(ring) >= 3]))
    if not parts:
        return []
    parts.sort(key=lambda part: part[0], reverse=True)
    largest = parts[0][0]
    return [ring for area, rings in parts if area >= largest * MIN_PART_FRACTION for ring in rings]


def _largest_part(mask: BoolMask) -> BoolMask:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 2:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest


def _longest_axis(part: BoolMask) -> Ring:
    ys, xs = np.nonzero(part)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = points.mean(axis=0)
    _, _, axes = np.linalg.svd(points - centre, full_matrices=False)
    projection = (points - centre) @ axes[0]
    start, end = points[int(np.argmin(projection))], points[int(np.argmax(projection))]
    return [
        (float(start[0]) + 0.5, float(start[1]) + 0.5),
        (float(end[0]) + 0.5, float(end[1]) + 0.5),
    ]


def _farthest(start: tuple[int, int], pixels: set[tuple[int, int]]) -> tuple[tuple[int, int], dict]:
    """Breadth-first walk of 8-connected skeleton pixels: the farthest one and the parent links."""
    parents: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    queue = deque([start])
    last = start
    while queue:
        last = queue.popleft()
        y, x = last
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                step = (y + dy, x + dx)
                if step in pixels and step not in parents:
                    parents[step] = last
                    queue.append(step)
    return last, parents


def mask_to_polyline(mask: BoolMask, tolerance: float = DEFAULT_TOLERANCE) -> Ring:
    """The medial line of the mask's largest part (see the module docstring).

    The part is skeletonised at most :data:`SKELETON_SIZE` pixels across (a larger part is
    scaled down first, and the line scaled back): a medial line needs no finer grid, and
    skeletonising a full-resolution blob takes seconds.
    """
    from skimage.morphology import skeletonize

    part = _largest_part(mask)
    box = box_of_mask(part)
    if box is None:
        return []
    x0, y0, x1, y1 = (int(v) for v in box)
    crop = part[y0:y1, x0:x1]
    scale = min(1.0, SKELETON_SIZE / max(crop.shape))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    pixels = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeletonize(crop)))}
    if len(pixels) < 2:
        return _longest_axis(part)
    end_a, _ = _farthest(next(iter(pixels)), pixels)
    end_b, parents = _farthest(end_a, pixels)
    path: list[tuple[int, int]] = []
    node: tuple[int, int] | None = end_b
    while node is not None:
        path.append(node)
        node = parents[node]
    points = (np.array([[x, y] for y, x in path], dtype=np.float64) + 0.5) / scale
    points += (x0, y0)
    line = _simplify(points, tolerance, closed=False)
    return line if len(line) >= 2 else _longest_axis(part)


def mask_to_keypoint(mask: BoolMask) -> tuple[float, float] | None:
    """The pixel centre farthest from the mask's border (inside the object)."""
    if not mask.any():
        return None
    padded = np.pad(mask.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return float(x) + 0.5, float(y) + 0.5


def _box_json(box: Box) -> dict[str, float]:
    x1, y1, x2, y2 = box
    return {"x": round(x1, 2), "y": round(y1, 2), "w": round(x2 - x1, 2), "h": round(y2 - y1, 2)}


def _points_json(points: Ring) -> list[dict[str, float]]:
    return [{"x": round(x, 2), "y": round(y, 2)} for x, y in points]


def to_annotation(
    prediction: Prediction,
    name: str,
    output_type: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    created_by: str | None = None,
) -> dict[str, Any] | None:
    """One annotation in the wire format, or None when the mask has no usable shape of that type."""
    mask = prediction.mask
    box = box_of_mask(mask) if mask is not None else None
    box = box or prediction.box
    if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
        return None
    annotation: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": name,
        "type": output_type,
        "confidence": round(min(max(float(prediction.score), 0.0), 1.0), 4),
    }
    if created_by is not None:
        annotation["created_by"] = created_by
    if output_type == "bbox":
        annotation["bounding_box"] = _box_json(box)
        return annotation
    if mask is None:
        return None
    if output_type == "polygon":
        rings = mask_to_rings(mask, tolerance)
        if not rings:
            return None
        annotation["polygon"] = {"paths": [_points_json(ring) for ring in rings]}
        annotation["bounding_box"] = _box_json(box)
    elif output_type == "polyline":
        line = mask_to_polyline(mask, tolerance)
        if len(line) < 2:
            return None
        annotation["polyline"] = {"path": _points_json(line)}
        annotation["bounding_box"] = _box_json(box)
    elif output_type == "keypoint":
        point = mask_to_keypoint(mask)
        if point is None:
            return None
        annotation["keypoint"] = {"x": round(point[0], 2), "y": round(point[1], 2)}
    else:
        raise ValueError(f"unknown output_type {output_type!r}")
    return annotation
