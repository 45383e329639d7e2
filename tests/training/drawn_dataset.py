"""A drawn-shapes dataset as a Pictograph export, for training tests and the training benchmark.

Each image holds one or two filled shapes, a red ``square`` or a blue ``disc``, at random
places and sizes on a lightly noisy background. The annotations are exact: squares are their
four corners, discs a 32-gon, so boxes, masks and class maps are all known. Classification
labels follow the largest shape, as :attr:`pictograph.training.data.Sample.label` does.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("square", "disc")
COLOURS = {"square": (215, 40, 40), "disc": (40, 70, 220)}


def draw_image(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[dict[str, Any]]]:
    """One image and its polygon annotations (Pictograph wire format)."""
    base = rng.integers(150, 190, size=(size, size, 3)).astype(np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    annotations: list[dict[str, Any]] = []
    taken: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(1, 3))):
        name = CLASSES[int(rng.integers(0, len(CLASSES)))]
        for _attempt in range(20):
            side = float(rng.uniform(0.2, 0.4) * size)
            x, y = (float(v) for v in rng.uniform(2, size - side - 2, size=2))
            box = (x, y, x + side, y + side)
            if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
                break
        else:
            continue
        taken.append(box)
        if name == "square":
            points = [(box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])]
        else:
            cx, cy, r = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, side / 2
            points = [
                (cx + r * math.cos(2 * math.pi * k / 32), cy + r * math.sin(2 * math.pi * k / 32))
                for k in range(32)
            ]
        draw.polygon(points, fill=COLOURS[name])
        annotations.append(
            {
                "id": f"a{len(annotations)}",
                "name": name,
                "type": "polygon",
                "polygon": {
                    "paths": [[{"x": round(px, 2), "y": round(py, 2)} for px, py in points]]
                },
            }
        )
    return image, annotations


def write_export(path: Path, images: int = 12, size: int = 96, seed: int = 0) -> Path:
    """A ``format="pictograph"`` export with images, as the server would write it."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(
            "dataset.json",
            json.dumps(
                {
                    "name": "drawn",
                    "format": "pictograph",
                    "version": 1,
                    "classes": [
                        {"id": i + 1, "name": n, "type": "polygon", "color": None}
                        for i, n in enumerate(CLASSES)
                    ],
                }
            ),
        )
        for index in range(images):
            image, annotations = draw_image(rng, size)
            name = f"img{index:04d}.png"
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            bundle.writestr(f"images/{name}", buffer.getvalue())
            record = {
                "image": {
                    "id": f"id-{index:04d}",
                    "filename": name,
                    "folder": "/",
                    "width": size,
                    "height": size,
                    "status": "complete",
                },
                "annotations": annotations,
            }
            bundle.writestr(f"annotations/{name}.json", json.dumps(record))
    return path


def save_folder(folder: Path, images: int = 12, size: int = 96, seed: int = 0) -> list[Path]:
    """The same kind of images as plain files in ``folder`` (for upload workflows)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(images):
        image, _ = draw_image(rng, size)
        paths.append(folder / f"img{index:04d}.png")
        image.save(paths[-1])
    return paths


def upload_drawn(client: Any, name: str, folder: Path, images: int = 8, size: int = 64) -> Any:
    """A dataset ``name`` on a live server holding drawn images with their exact polygons
    (saved, so every image is ``complete``); returns the project."""
    project = client.projects.create(
        name,
        annotation_types=["polygon", "bbox"],
        classes=[{"name": c, "type": "polygon", "color": None} for c in CLASSES],
    )
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(images):
        image, annotations = draw_image(rng, size)
        path = folder / f"{name}-{index:03d}.png"
        image.save(path)
        uploaded = client.images.upload(project.id, path)
        client.annotations.save(uploaded.id, annotations)
    return project
