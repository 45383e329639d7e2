"""Polygons ↔ masks ↔ COCO RLE, shared by the COCO and Pascal VOC formats.

Rasterising uses pycocotools (``frPyObjects``), so a mask written here has exactly the
pixels COCO tools compute for the same polygon. A polygon's rings follow the Pictograph
rule (even-odd): each ring's pixels are XOR-ed in, so a hole ring cuts its outline.

Tracing (``mask_to_polygons``) follows pixel edges, not pixel centres: a ring's vertices
lie on the pixel grid and enclose exactly the mask's pixels, so tracing a rasterised
polygon whose vertices are whole pixels gives back the same polygon. Foreground is
4-connected (pixels touching only at a corner are separate parts), background
8-connected; only corners are kept, so a straight run is one edge. Each ring starts at its
top-left corner; outlines run clockwise on screen (as a box's corners are usually listed),
holes the other way.

RLE strings are decoded here, not by pycocotools: its C decoder writes past the end of
the mask when the counts add up to more than height × width, and imports are untrusted.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

Ring = list[tuple[float, float]]
Mask = npt.NDArray[np.bool_]

# Direction of a boundary edge (y grows downwards): east, south, west, north.
_STEP_X = np.array([1, 0, -1, 0], dtype=np.int64)
_STEP_Y = np.array([0, 1, 0, -1], dtype=np.int64)


MAX_MASK_PIXELS = 1 << 28
"""The largest mask an import may declare (about 16k × 16k): a few RLE bytes can ask for any size."""


class MalformedRLE(ValueError):
    """An RLE that does not describe a mask of its declared size."""


# ───────────── polygon → mask → RLE ─────────────


def ring_area(ring: Sequence[tuple[float, float]]) -> float:
    """The ring's area (shoelace), positive whatever its orientation."""
    return abs(_signed_area(ring))


def polygon_to_mask(
    rings: Sequence[Sequence[tuple[float, float]]], height: int, width: int
) -> Mask:
    """The pixels of a multi-ring polygon (even-odd), rasterised as pycocotools does."""
    mask = np.zeros((height, width), dtype=bool)
    for ring in rings:
        flat = [float(v) for point in ring for v in point]
        (rle,) = coco_mask.frPyObjects([flat], height, width)
        mask ^= rle_to_mask(rle["counts"].decode("ascii"), height, width)
    return mask


def mask_to_rle(mask: Mask) -> dict[str, Any]:
    """Compressed COCO RLE of ``mask``: ``{"size": [h, w], "counts": str}``."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {
        "size": [int(rle["size"][0]), int(rle["size"][1])],
        "counts": rle["counts"].decode("ascii"),
    }


def rle_area(rle: dict[str, Any]) -> int:
    return int(coco_mask.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))


# ───────────── RLE → mask ─────────────


def rle_counts(counts: object, height: int, width: int) -> list[int]:
    """Uncompressed run lengths from COCO RLE ``counts`` (a list, or the compressed string).

    Raises MalformedRLE when a run is negative, the string has a character outside COCO's
    alphabet, the runs do not add up to ``height * width``, or the mask would be too large.
    """
    if height * width > MAX_MASK_PIXELS:
        raise MalformedRLE(f"size: [{height}, {width}] is over the {MAX_MASK_PIXELS} pixel limit")
    if isinstance(counts, str):
        runs = _decode_counts_string(counts)
    elif isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise MalformedRLE("counts: expected whole numbers")
        runs = [int(c) for c in counts]
    else:
        raise MalformedRLE("counts: expected a string or a list of numbers")
    if any(run < 0 for run in runs):
        raise MalformedRLE("counts: a run length is negative")
    if sum(runs) != height * width:
        raise MalformedRLE(
            f"counts: runs add up to {sum(runs)} pixels, size [{height}, {width}] has {height * width}"
        )
    return runs


def _decode_counts_string(text: str) -> list[int]:
    """pycocotools' ``rleFrString``: 5-bit groups offset by 48, each run after the second a delta."""
    runs: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise MalformedRLE("counts: the string ends inside a number")
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                raise MalformedRLE(f"counts: character {text[position]!r} at {position} is not RLE")
            value |= (code & 0x1F) << (5 * shift)
            more = bool(code & 0x20)
            position += 1
            shift += 1
            if not more and code & 0x10:
                value -= 1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def rle_to_mask(counts: object, height: int, width: int) -> Mask:
    """The mask of a COCO RLE (runs alternate background, foreground, in column-major order)."""
    runs = np.asarray(rle_counts(counts, height, width), dtype=np.int64)
    values = (np.arange(runs.size) % 2).astype(bool)
    return np.repeat(values, runs).reshape(width, height).T


# ───────────── mask → polygons ─────────────


def mask_to_polygons(mask: Mask) -> list[list[Ring]]:
    """The mask's parts, each ``[outline, hole, ...]`` with vertices on pixel corners."""
    mask = np.asarray(mask, dtype=bool)
    rings, first_edges = _trace_rings(mask)
    if not rings:
        return []
    components = _Components(mask)
    # Each ring borders one part: the one holding the pixel on the right of its first edge.
    owners = [components.label_at(*_pixel_on_right(edge)) for edge in first_edges]
    is_outline = [_signed_area(ring) > 0 for ring in rings]
    parts = {owner: [ring] for ring, owner, outline in zip(rings, owners, is_outline) if outline}
    for ring, owner, outline in zip(rings, owners, is_outline):
        if not outline:
            parts[owner].append(ring)
    return list(parts.values())


def _trace_rings(mask: Mask) -> tuple[list[Ring], list[tuple[int, int, int]]]:
    """Closed boundary rings (outlines clockwise on screen, holes anticlockwise) and each one's first edge."""
    height, width = mask.shape
    padded = np.pad(mask, 1)
    above, below = padded[0 : height + 1, 1 : width + 1], padded[1 : height + 2, 1 : width + 1]
    left, right = padded[1 : height + 1, 0 : width + 1], padded[1 : height + 1, 1 : width + 2]
    # Each edge is walked with the foreground on its right.
    east_y, east_x = np.nonzero(below & ~above)  # top edge of a pixel: (x, y) → (x+1, y)
    west_y, west_x = np.nonzero(above & ~below)  # bottom edge: (x+1, y) → (x, y)
    north_r, north_x = np.nonzero(right & ~left)  # left edge: (x, r+1) → (x, r)
    south_r, south_x = np.nonzero(left & ~right)  # right edge: (x, r) → (x, r+1)
    xs = np.concatenate([east_x, west_x + 1, north_x, south_x]).astype(np.int64)
    ys = np.concatenate([east_y, west_y, north_r + 1, south_r]).astype(np.int64)
    directions = np.concatenate(
        [
            np.full(east_x.size, 0),
            np.full(west_x.size, 2),
            np.full(north_x.size, 3),
            np.full(south_x.size, 1),
        ]
    ).astype(np.int64)
    count = xs.size
    if count == 0:
        return [], []
    stride = width + 1
    starts = ys * stride + xs
    ends = (ys + _STEP_Y[directions]) * stride + xs + _STEP_X[directions]
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    at = np.searchsorted(sorted_starts, ends)
    first = order[at]
    second_at = np.minimum(at + 1, count - 1)
    saddle = (at + 1 < count) & (sorted_starts[second_at] == ends)
    # At a saddle (two pixels touching at a corner) turn right: the pixels stay separate.
    wrong_turn = saddle & (directions[first] != (directions + 1) % 4)
    successor = np.where(wrong_turn, order[second_at], first).tolist()
    x_list, y_list, dir_list = xs.tolist(), ys.tolist(), directions.tolist()
    visited = bytearray(count)
    rings: list[Ring] = []
    first_edges: list[tuple[int, int, int]] = []
    for start in range(count):
        if visited[start]:
            continue
        ring: Ring = []
        edge = start
        while not visited[edge]:
            visited[edge] = 1
            following = successor[edge]
            if dir_list[following] != dir_list[edge]:
                ring.append((float(x_list[following]), float(y_list[following])))
            edge = following
        first = ring.index(min(ring, key=lambda point: (point[1], point[0])))
        rings.append(ring[first:] + ring[:first])  # from the top-left corner, stable across runs
        first_edges.append((x_list[start], y_list[start], dir_list[start]))
    return rings, first_edges


def _signed_area(ring: Sequence[tuple[float, float]]) -> float:
    points = np.asarray(ring, dtype=np.float64)
    xs, ys = points[:, 0], points[:, 1]
    return float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2


def _pixel_on_right(edge: tuple[int, int, int]) -> tuple[int, int]:
    """(row, column) of the foreground pixel on the right of the edge starting at (x, y)."""
    x, y, direction = edge
    return y - (0, 0, 1, 1)[direction], x - (0, 1, 1, 0)[direction]


class _Components:
    """4-connected parts of a mask, labelled run by run (union-find over row runs)."""

    def __init__(self, mask: Mask) -> None:
        self._parent: list[int] = []
        self._rows: list[tuple[list[int], list[int], list[int]]] = []
        previous: list[tuple[int, int, int]] = []
        zero = np.zeros((mask.shape[0], 1), dtype=np.int8)
        changes = np.diff(np.concatenate([zero, mask.astype(np.int8), zero], axis=1), axis=1)
        for row in changes:
            starts = np.flatnonzero(row == 1).tolist()
            ends = np.flatnonzero(row == -1).tolist()
            runs: list[tuple[int, int, int]] = []
            j = 0
            for start, end in zip(starts, ends):
                while j < len(previous) and previous[j][1] <= start:
                    j += 1
                label = -1
                k = j
                while k < len(previous) and previous[k][0] < end:
                    label = previous[k][2] if label < 0 else self._union(label, previous[k][2])
                    k += 1
                if label < 0:
                    label = len(self._parent)
                    self._parent.append(label)
                runs.append((start, end, label))
            self._rows.append((starts, ends, [run[2] for run in runs]))
            previous = runs

    def _find(self, label: int) -> int:
        parent = self._parent
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    def _union(self, a: int, b: int) -> int:
        a, b = self._find(a), self._find(b)
        if a != b:
            self._parent[b] = a
        return a

    def label_at(self, row: int, column: int) -> int:
        starts, ends, labels = self._rows[row]
        index = bisect.bisect_right(starts, column) - 1
        if index < 0 or column >= ends[index]:
            raise ValueError(f"pixel ({row}, {column}) is background")
        return self._find(labels[index])
