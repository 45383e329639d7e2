"""What an image-embedding model gives search: a unit vector and the tags it can judge.

Two backends implement :class:`ImageEmbedder`: SigLIP 2 (``siglip.py``, when its weights are on
disk) and the bundled EfficientNet-Lite0 (``efficientnet.py``). Both answer one batch at a
time, because batching is where the throughput is. Tags come from the curated taxonomy in
``taxonomy.py``; a category the model cannot judge is absent from :attr:`ImageEmbedder.judges`
and left empty instead of guessed. The measured attributes (blurry, dark …) come from
``image_stats.py`` for every model, so they are not the embedder's business.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pictograph.vision.base import Backend, RGBImage

TAG_CATEGORIES = ("objects", "scenes", "attributes")


@dataclass
class ImageAnalysis:
    """One image as the embedder saw it."""

    vector: npt.NDArray[np.float32]
    """L2-normalised embedding, shape ``(dim,)``: cosine similarity is a dot product."""
    tags: dict[str, dict[str, float]] = field(default_factory=dict)
    """Category → {taxonomy label: score in [0, 1]} for the categories in ``judges``."""


class ImageEmbedder(Backend):
    """An image-embedding model with its identity, so stored vectors say what made them."""

    version: str
    """Changes whenever the weights change: vectors of another version are re-made."""
    dim: int
    judges: frozenset[str]
    """The tag categories this model can judge (a subset of :data:`TAG_CATEGORIES`)."""
    batch_size: int = 16

    @abstractmethod
    def analyze(self, images: Sequence[RGBImage]) -> list[ImageAnalysis]:
        """Embed (and tag) a batch of RGB images of any sizes."""


def normalize_rows(matrix: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (a zero row stays zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
