"""Image embeddings: images per second of the bundled embedder against its bare model.

On ~200 photo-like images (scikit-image's photos, cropped, scaled and mirrored to about
640 × 480), in the same run:

- **ours**: ``EfficientNetEmbedder.analyze`` in batches of its ``batch_size``, as the indexing
  job calls it: resizing and normalising each image, the onnxruntime call, and the object tags
  (softmax, summing ImageNet classes per taxonomy object).
- **bare onnxruntime**: the same ONNX session on the same batches, preprocessed beforehand.
- **bare torch**: the EfficientNet-Lite0 torch network (what the ONNX model was exported from)
  on the same preprocessed batches, with as many threads as onnxruntime gets.

It prints images per second for each and the ratios (ours / bare onnxruntime is the cost of
preprocessing and tagging; onnxruntime / torch is why the backend exports to ONNX), the time
the load spends exporting to ONNX, and the per-image cost of ``measured_attributes`` (the
pixel-statistics attributes every image gets whatever the model).

    python benchmarks/bench_embeddings.py
    python benchmarks/bench_embeddings.py --images 64 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pictograph.vision import registry  # noqa: E402
from pictograph.vision.efficientnet import (  # noqa: E402
    WEIGHTS,
    EfficientNetEmbedder,
    build_network,
    export_onnx,
    preprocess,
)
from pictograph.vision.image_stats import measured_attributes  # noqa: E402

PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "camera", "coins", "immunohistochemistry")
SIZE = (640, 480)


def photo_variants(count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` RGB images of 640 × 480: random crops of the photos, some mirrored."""
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = []
    for name in PHOTOS:
        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[..., :3]))
    images = []
    for index in range(count):
        source = photos[index % len(photos)]
        height, width = source.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        crop_h, crop_w = int(height * scale), int(width * scale)
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        crop = source[top : top + crop_h, left : left + crop_w]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        images.append(cv2.resize(np.ascontiguousarray(crop), SIZE, interpolation=cv2.INTER_AREA))
    return images


def seconds(work: Callable[[Sequence[Any]], object], batches: Sequence[Any]) -> float:
    start = time.perf_counter()
    work(batches)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of ours and onnxruntime (best kept)"
    )
    args = parser.parse_args()

    import torch

    threads = min(4, os.cpu_count() or 1)  # what the backend gives onnxruntime
    torch.set_num_threads(threads)
    spec = registry.get_spec("efficientnet-lite0")
    location, reason = registry.locate(spec, Path("."))
    if location is None:
        sys.exit(f"efficientnet-lite0 is not available: {reason}")

    start = time.perf_counter()
    embedder = registry.load_backend(spec, "embed", location, "cpu")
    load_seconds = time.perf_counter() - start
    assert isinstance(embedder, EfficientNetEmbedder)
    network = build_network(location.path / WEIGHTS)
    start = time.perf_counter()
    export_onnx(network)
    export_seconds = time.perf_counter() - start

    images = photo_variants(args.images)
    size = embedder.batch_size
    image_batches = [images[start : start + size] for start in range(0, len(images), size)]
    pixel_batches = [preprocess(batch) for batch in image_batches]
    print(
        f"{len(images)} images of {SIZE[0]}×{SIZE[1]}, batches of {size}, {threads} threads; "
        f"load {load_seconds:.2f} s (the ONNX export alone: {export_seconds:.2f} s)\n"
    )

    def ours(batches: Sequence[list[np.ndarray]]) -> None:
        for batch in batches:
            embedder.analyze(batch)

    def bare_onnxruntime(batches: Sequence[np.ndarray]) -> None:
        for pixels in batches:
            embedder.session.run(None, {"pixels": pixels})

    def bare_torch(batches: Sequence[np.ndarray]) -> None:
        with torch.inference_mode():
            for pixels in batches:
                network(torch.from_numpy(pixels))

    sides = {
        "ours": (ours, image_batches),
        "bare onnxruntime": (bare_onnxruntime, pixel_batches),
        "bare torch": (bare_torch, pixel_batches),
    }
    best = dict.fromkeys(sides, float("inf"))
    for work, batches in sides.values():
        work(batches[:1])  # warm up
    for repeat in range(args.repeats):  # interleaved, so a busy moment hits every side alike
        for label, (work, batches) in sides.items():
            if label != "bare torch" or repeat == 0:  # torch is 5× slower: one run
                best[label] = min(best[label], seconds(work, batches))
    rates = {label: len(images) / value for label, value in best.items()}

    print(f"{'':<18} {'images/s':>9} {'ms/image':>9}")
    for label, rate in rates.items():
        print(f"{label:<18} {rate:>9.1f} {1000 / rate:>9.2f}")
    print(f"ours / bare onnxruntime: {rates['ours'] / rates['bare onnxruntime']:.2f}")
    print(f"bare onnxruntime / bare torch: {rates['bare onnxruntime'] / rates['bare torch']:.2f}×")

    per_image = []
    for image in images:
        start = time.perf_counter()
        measured_attributes(image)
        per_image.append(time.perf_counter() - start)
    print(
        f"measured_attributes: {1000 * statistics.mean(per_image):.2f} ms/image mean, "
        f"{1000 * statistics.median(per_image):.2f} median"
    )


if __name__ == "__main__":
    main()
