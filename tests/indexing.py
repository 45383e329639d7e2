"""Helpers for tests that need images embedded and tagged (which happens in the background)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from pictograph import Client


def wait_indexed(client: Client, dataset_name: str, timeout: float = 180.0) -> None:
    """Until every live image of the dataset has an embedding."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.search.status(dataset_name)
        if status.pending_images == 0 and status.total_images > 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"indexing did not finish: {status}")
        time.sleep(0.3)


def save(pixels: np.ndarray, path: Path) -> Path:
    """Write an RGB array as an image file (JPEG quality 92 for .jpg), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(pixels).save(path, quality=92)
    return path
