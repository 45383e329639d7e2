"""A Pictograph export (``format="pictograph"``, ``include_images=True``) as training data.

The archive is unpacked once into the run's working directory. Each image becomes a
:class:`Sample` with its instances: boxes come from every annotation that has one (polylines
and keypoints carry none and are left out), masks from polygons. The split is deterministic:
images are ordered by a hash of their id, so the same export always splits the same way and
adding images moves few of the old ones. At least :data:`MIN_IMAGES` images are needed so
that train, val and test each get one.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from pictograph.formats._masks import polygon_to_mask

MIN_IMAGES = 5
VAL_FRACTION = 0.2
TEST_FRACTION = 0.1

Box = tuple[float, float, float, float]
Ring = list[tuple[float, float]]


class NotEnoughImages(ValueError):
    """Fewer than :data:`MIN_IMAGES` images: no train / val / test split is possible."""


@dataclass(frozen=True)
class Instance:
    class_index: int
    """0-based index into :attr:`TrainingData.classes`."""
    box: Box
    """x1, y1, x2, y2 in pixels, clipped to the image."""
    rings: tuple[Ring, ...] | None = None
    """Polygon rings (even-odd) when the annotation is a polygon."""

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclass(frozen=True)
class Sample:
    image_id: str
    path: Path
    width: int
    height: int
    instances: tuple[Instance, ...]

    def load_rgb(self) -> npt.NDArray[np.uint8]:
        """H×W×3 uint8; the stored size is the image's size as the server measured it."""
        with PILImage.open(self.path) as image:
            return np.asarray(image.convert("RGB"))

    def mask(self, instance: Instance) -> npt.NDArray[np.bool_]:
        """The instance's pixels: its polygon, or its box filled when it has none."""
        if instance.rings is not None:
            return polygon_to_mask(instance.rings, self.height, self.width)
        mask = np.zeros((self.height, self.width), dtype=bool)
        x1, y1, x2, y2 = (int(round(v)) for v in instance.box)
        mask[y1:y2, x1:x2] = True
        return mask

    def class_map(self) -> npt.NDArray[np.uint8]:
        """Semantic target: 0 background, k+1 for class k; larger instances are painted first,
        so a small object on a big one stays visible."""
        target = np.zeros((self.height, self.width), dtype=np.uint8)
        for instance in sorted(self.instances, key=lambda item: -item.area):
            target[self.mask(instance)] = instance.class_index + 1
        return target

    @property
    def label(self) -> int | None:
        """Classification target: the class covering the most area (None without instances)."""
        if not self.instances:
            return None
        area: dict[int, float] = {}
        for instance in self.instances:
            area[instance.class_index] = area.get(instance.class_index, 0.0) + instance.area
        return max(sorted(area), key=lambda index: area[index])


@dataclass
class TrainingData:
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    skipped: dict[str, int] = field(default_factory=dict)
    """Annotations left out, by reason (``polyline``, ``keypoint``, ``unknown class``)."""

    @property
    def class_mapping(self) -> dict[str, str]:
        """Index → class name, as the Model resource documents it."""
        return {str(index): name for index, name in enumerate(self.classes)}

    def coco(self, split: str = "test", *, with_masks: bool = False) -> dict[str, Any]:
        """A COCO ground-truth dict for pycocotools: image ids are 1-based positions in the
        split, category ids are class index + 1."""
        images, annotations = [], []
        for number, sample in enumerate(getattr(self, split), start=1):
            images.append({"id": number, "width": sample.width, "height": sample.height})
            for instance in sample.instances:
                x1, y1, x2, y2 = instance.box
                entry: dict[str, Any] = {
                    "id": len(annotations) + 1,
                    "image_id": number,
                    "category_id": instance.class_index + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": instance.area,
                    "iscrowd": 0,
                }
                if with_masks:
                    from pictograph.formats._masks import mask_to_rle

                    mask = sample.mask(instance)
                    entry["segmentation"] = mask_to_rle(mask)
                    entry["area"] = float(mask.sum())
                annotations.append(entry)
        categories = [{"id": index + 1, "name": name} for index, name in enumerate(self.classes)]
        return {"images": images, "annotations": annotations, "categories": categories}


def load_export(archive: Path, workdir: Path) -> TrainingData:
    """Unpack ``archive`` under ``workdir`` and split it. Raises NotEnoughImages (< 5 images)
    and ValueError for an archive that is not a Pictograph export with images."""
    root = workdir / "data"
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        if "dataset.json" not in names:
            raise ValueError("The export is not in the pictograph format (no dataset.json)")
        for name in names:
            if not _safe(name):
                raise ValueError(f"Unsafe path in export: {name!r}")
        bundle.extractall(root)
    meta = json.loads((root / "dataset.json").read_text())
    classes = [entry["name"] for entry in meta.get("classes", [])]
    index_of = {name: index for index, name in enumerate(classes)}
    samples: list[Sample] = []
    skipped: dict[str, int] = {}
    for path in sorted((root / "annotations").rglob("*.json")):
        record = json.loads(path.read_text())
        relative = path.relative_to(root / "annotations").as_posix()[: -len(".json")]
        image_path = root / "images" / relative
        if not image_path.is_file():
            raise ValueError("The export has no images: create it with include_images=True")
        info = record["image"]
        width, height = int(info["width"]), int(info["height"])
        instances = []
        for annotation in record.get("annotations", []):
            instance, reason = _instance(annotation, index_of, width, height)
            if instance is None:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                instances.append(instance)
        samples.append(Sample(str(info["id"]), image_path, width, height, tuple(instances)))
    if len(samples) < MIN_IMAGES:
        raise NotEnoughImages(
            f"Training needs at least {MIN_IMAGES} images to split into train / val / test; "
            f"the export has {len(samples)}"
        )
    train, val, test = split(samples)
    return TrainingData(classes, train, val, test, skipped)


def split(samples: list[Sample]) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Deterministic train / val / test split by a hash of each image id (≥ 1 image in each)."""
    ordered = sorted(samples, key=lambda sample: hashlib.sha1(sample.image_id.encode()).hexdigest())
    n_val = max(1, round(len(ordered) * VAL_FRACTION))
    n_test = max(1, round(len(ordered) * TEST_FRACTION))
    return ordered[n_val + n_test :], ordered[:n_val], ordered[n_val : n_val + n_test]


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def _instance(
    annotation: dict[str, Any], index_of: dict[str, int], width: int, height: int
) -> tuple[Instance | None, str]:
    kind = annotation.get("type")
    if kind not in ("bbox", "polygon"):
        return None, str(kind)
    if annotation.get("name") not in index_of:
        return None, "unknown class"
    rings: tuple[Ring, ...] | None = None
    if kind == "polygon":
        rings = tuple(
            [(float(p["x"]), float(p["y"])) for p in path]
            for path in annotation["polygon"]["paths"]
        )
        xs = [x for ring in rings for x, _ in ring]
        ys = [y for ring in rings for _, y in ring]
        x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    else:
        box = annotation["bounding_box"]
        x1, y1 = float(box["x"]), float(box["y"])
        x2, y2 = x1 + float(box["w"]), y1 + float(box["h"])
    x1, x2 = max(0.0, x1), min(float(width), x2)
    y1, y2 = max(0.0, y1), min(float(height), y2)
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None, "degenerate"
    return Instance(index_of[annotation["name"]], (x1, y1, x2, y2), rings), ""
