"""The annotation engine: picks the best available backend per role and runs prompts through it.

One engine lives in each server process. Backends load lazily on first use and stay loaded.
Image embeddings are cached in an LRU bounded in bytes, keyed by (model, image key), so a
second point / box prompt on the same image runs only the prompt decoder — the docs' "session"
whose first prompt pays for the embedding.

Text prompts go to the best text backend; instances it returns without a mask are segmented
from their boxes by the best segmenter, but only when a mask is needed (a polygon, polyline or
keypoint was asked for, or the backend has a last check on the mask such as a colour word), so
bounding-box-only requests skip the image encoder entirely.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pictograph.vision.base import (
    Backend,
    Box,
    ClosedSetDetector,
    ImageEmbedding,
    PointXY,
    Prediction,
    PromptSegmenter,
    RGBImage,
    TextDetector,
)
from pictograph.vision.embedding import ImageEmbedder
from pictograph.vision.registry import (
    PREFERENCE,
    ModelLocation,
    RoleGroup,
    get_spec,
    load_backend,
    locate,
)

logger = logging.getLogger("pictograph.vision")

ImageLoader = Callable[[], RGBImage]


class ModelUnavailable(RuntimeError):
    """No backend of a role group is usable here (the message says what to install or pull)."""


@dataclass
class SegmentOutcome:
    prediction: Prediction | None
    model: str
    cached: bool
    """The image embedding was already cached (no encoder run for this prompt)."""
    seconds: float


@dataclass
class TextOutcome:
    predictions: list[Prediction]
    model: str
    """The text backend, plus the segmenter when it made masks (``owlv2+sam2.1``)."""
    seconds: float
    segmented: bool = False


@dataclass
class _CacheEntry:
    embedding: ImageEmbedding
    nbytes: int


@dataclass
class EmbeddingCache:
    """LRU of image embeddings bounded by their total size in bytes."""

    max_bytes: int
    _entries: OrderedDict[tuple[str, str], _CacheEntry] = field(default_factory=OrderedDict)
    _bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, str]) -> ImageEmbedding | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.embedding

    def put(self, key: tuple[str, str], embedding: ImageEmbedding) -> None:
        size = max(int(embedding.nbytes), 1)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = _CacheEntry(embedding, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes


def default_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(predictions: Sequence[Prediction], iou_threshold: float = 0.5) -> list[Prediction]:
    """Greedy non-maximum suppression within each label, highest score first."""
    kept: list[Prediction] = []
    for prediction in sorted(predictions, key=lambda p: p.score, reverse=True):
        if all(
            other.label != prediction.label or _iou(other.box, prediction.box) < iou_threshold
            for other in kept
        ):
            kept.append(prediction)
    return kept


class VisionEngine:
    def __init__(
        self,
        models_dir: Path,
        *,
        device: str = "auto",
        cache_bytes: int = 512 * 1024**2,
        choices: dict[str, str] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.device = default_device(device)
        self.cache = EmbeddingCache(cache_bytes)
        self.choices = dict(choices or {})
        """Role group → model name to use instead of the preference order."""
        self._backends: dict[tuple[RoleGroup, str], Backend] = {}
        self._resolved: dict[tuple[RoleGroup, str | None], tuple[str, ModelLocation]] = {}
        """Which model serves a role, found once per process: every prompt asks, and finding
        out probes the models directory, the HF cache and the installed packages. Weights
        pulled later are picked up on the next start (as ``pictograph models pull`` says)."""
        self._load_lock = threading.Lock()

    # ───────────── backends ─────────────

    def resolve(self, group: RoleGroup, model: str | None = None) -> str:
        """The model name that serves ``group`` (``model`` if given and usable)."""
        return self._resolve(group, model)[0]

    def _resolve(self, group: RoleGroup, model: str | None) -> tuple[str, ModelLocation]:
        found = self._resolved.get((group, model))
        if found is not None:
            return found
        names = (
            (model,)
            if model
            else ((self.choices[group],) if group in self.choices else PREFERENCE[group])
        )
        reasons: list[str] = []
        for name in names:
            try:
                spec = get_spec(name)
            except KeyError:
                reasons.append(f"{name}: unknown model")
                continue
            if group not in spec.loaders:
                reasons.append(f"{name}: cannot serve {group} prompts")
                continue
            location, reason = locate(spec, self.models_dir)
            if location is not None:
                self._resolved[(group, model)] = (name, location)
                return name, location
            reasons.append(f"{name}: {reason}")
        raise ModelUnavailable(f"No model available for {group} prompts ({'; '.join(reasons)})")

    def backend(self, group: RoleGroup, model: str | None = None) -> Backend:
        name, location = self._resolve(group, model)
        key = (group, name)
        loaded = self._backends.get(key)
        if loaded is not None:
            return loaded
        with self._load_lock:
            loaded = self._backends.get(key)
            if loaded is None:
                started = time.perf_counter()
                loaded = load_backend(get_spec(name), group, location, self.device)
                logger.info(
                    "loaded %s for %s in %.1f s", name, group, time.perf_counter() - started
                )
                self._backends[key] = loaded
        return loaded

    def segmenter(self, model: str | None = None) -> PromptSegmenter:
        backend = self.backend("segment", model)
        assert isinstance(backend, PromptSegmenter)
        return backend

    def text_detector(self, model: str | None = None) -> TextDetector:
        backend = self.backend("text", model)
        assert isinstance(backend, TextDetector)
        return backend

    def trained(self, model_id: str, path: Path) -> TextDetector:
        """The trained model ``model_id`` (its ONNX file at ``path``), loaded once."""
        from pictograph.vision.trained import TrainedDetector

        key: tuple[RoleGroup, str] = ("text", f"trained:{model_id}")
        with self._load_lock:
            loaded = self._backends.get(key)
            if loaded is None:
                loaded = TrainedDetector(key[1], path, self.device)
                self._backends[key] = loaded
        assert isinstance(loaded, TextDetector)
        return loaded

    def detector(self, model: str | None = None) -> ClosedSetDetector:
        backend = self.backend("detect", model)
        assert isinstance(backend, ClosedSetDetector)
        return backend

    def embedder(self, model: str | None = None) -> ImageEmbedder:
        """The image-embedding model search uses (SigLIP 2 when here, else EfficientNet-Lite0)."""
        backend = self.backend("embed", model)
        assert isinstance(backend, ImageEmbedder)
        return backend

    # ───────────── embeddings ─────────────

    def embedding(
        self, segmenter: PromptSegmenter, image_key: str, load: ImageLoader
    ) -> tuple[ImageEmbedding, bool]:
        """The cached embedding of the image, computing it on a miss; (embedding, was_cached)."""
        key = (segmenter.name, image_key)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True
        embedding = segmenter.embed(load())
        self.cache.put(key, embedding)
        return embedding, False

    def is_cached(self, image_key: str, model: str | None = None) -> bool:
        """Whether a prompt on this image would reuse an embedding (decides the session charge)."""
        try:
            name = self.resolve("segment", model)
        except ModelUnavailable:
            return False
        return self.cache.get((name, image_key)) is not None

    # ───────────── prompts ─────────────

    def box(
        self,
        image_key: str,
        load: ImageLoader,
        box: Box,
        negative_boxes: Sequence[Box] = (),
    ) -> SegmentOutcome:
        started = time.perf_counter()
        segmenter = self.segmenter()
        embedding, cached = self.embedding(segmenter, image_key, load)
        (prediction,) = segmenter.segment_boxes(embedding, [box], negative_boxes)
        if prediction.mask is not None and not prediction.mask.any():
            prediction = None
        return SegmentOutcome(prediction, segmenter.name, cached, time.perf_counter() - started)

    def point(
        self,
        image_key: str,
        load: ImageLoader,
        positives: Sequence[PointXY],
        negatives: Sequence[PointXY] = (),
    ) -> SegmentOutcome:
        started = time.perf_counter()
        segmenter = self.segmenter()
        embedding, cached = self.embedding(segmenter, image_key, load)
        prediction = segmenter.segment_points(embedding, positives, negatives)
        if prediction is not None and prediction.mask is not None and not prediction.mask.any():
            prediction = None
        return SegmentOutcome(prediction, segmenter.name, cached, time.perf_counter() - started)

    def text(
        self,
        image: RGBImage,
        prompts: Sequence[str],
        threshold: float,
        *,
        image_key: str | None = None,
        need_masks: bool = True,
        run_nms: bool = True,
        model: str | None = None,
        detector: TextDetector | None = None,
    ) -> TextOutcome:
        """Instances answering any of ``prompts`` (label = the prompt), best first.

        ``detector`` runs instead of the registry's text model (a trained model).

        ``need_masks=False`` (boxes only) skips segmenting instances the detector left
        without a mask, except those whose prompt the detector checks on the mask
        (:meth:`TextDetector.needs_mask`, e.g. "red cars").
        """
        started = time.perf_counter()
        detector = detector or self.text_detector(model)
        predictions = detector.detect(image, list(prompts), threshold)
        if run_nms:
            predictions = nms(predictions)
        checked = {prompt for prompt in prompts if detector.needs_mask(prompt)}
        unsegmented = [
            p for p in predictions if p.mask is None and (need_masks or p.label in checked)
        ]
        model_name = detector.name
        if not detector.makes_masks and (need_masks or checked):
            model_name = f"{detector.name}+{self.resolve('segment')}"
        if unsegmented:
            segmenter = self.segmenter()
            if image_key is None:
                embedding = segmenter.embed(image)
            else:
                embedding, _ = self.embedding(segmenter, image_key, lambda: image)
            boxes = [p.box for p in unsegmented]
            for target, found in zip(unsegmented, segmenter.segment_boxes(embedding, boxes)):
                target.mask = found.mask
        predictions = [p for p in predictions if detector.accepts(image, p)]
        predictions.sort(key=lambda p: p.score, reverse=True)
        seconds = time.perf_counter() - started
        return TextOutcome(predictions, model_name, seconds, segmented=bool(unsegmented))


def as_rgb(array: np.ndarray) -> RGBImage:
    """An RGB uint8 view of a decoded image (grey and RGBA inputs are converted)."""
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.shape[-1] == 4:
        array = array[..., :3]
    return np.ascontiguousarray(array.astype(np.uint8, copy=False))
