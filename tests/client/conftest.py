"""Fixtures for SDK tests against the live server: real image files and fresh datasets."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage

from pictograph import Client, ProjectClass
from pictograph.exceptions import NotFoundError
from pictograph.models.project import Project

CLASSES = [
    ProjectClass(name="car", type="bbox", color="#ff0000"),
    ProjectClass(name="road", type="polygon", color="#00ff00"),
    ProjectClass(name="lane", type="polyline", color="#0000ff"),
    ProjectClass(name="eye", type="keypoint", color="#ffff00"),
]
ImageFactory = Callable[..., Path]


def write_image(path: Path, *, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """A small real image with random pixels, so each file's bytes differ."""
    rng = random.Random(seed)
    image = PILImage.new("RGB", size)
    image.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(size[0] * size[1])
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture()
def make_image(tmp_path: Path) -> ImageFactory:
    counter = iter(range(10_000))

    def factory(name: str = "photo.png", *, size: tuple[int, int] = (64, 48)) -> Path:
        return write_image(tmp_path / "images" / name, size=size, seed=next(counter))

    return factory


@pytest.fixture()
def project(client: Client, unique_name: str) -> Iterator[Project]:
    """A fresh dataset whose classes cover all four annotation types; deleted afterwards."""
    created = client.projects.create(
        unique_name,
        description="SDK test dataset",
        annotation_types=["bbox", "polygon", "polyline", "keypoint"],
        classes=CLASSES,
    )
    yield created
    try:
        client.projects.delete(unique_name)
    except NotFoundError:
        pass
