"""SigLIP 2, the foundation image embedder: embeddings and zero-shot tags over the taxonomy.

The published SigLIP 2 checkpoints come in two layouts, both handled: the fixed-resolution
ones (``google/siglip2-so400m-patch14-384``, the registry's default) have ``model_type``
``siglip`` and load as ``SiglipModel``; the NaFlex ones (``…-naflex``) have ``siglip2`` and
load as ``Siglip2Model``, whose image processor keeps each image's aspect ratio.

Tags: SigLIP is trained with a sigmoid loss, so ``sigmoid(exp(logit_scale) · cos + logit_bias)``
is a calibrated probability that a caption fits the image, judged per label with no softmax
over the others. Every taxonomy label has one caption (:func:`prompt`), embedded once at load;
an image keeps the labels whose probability is at least :data:`TAG_THRESHOLD`, at most
:data:`MAX_TAGS` per category. The measured attributes (blurry, dark …) are left to
``image_stats.py``: pixels answer those exactly.

The processor's parts are called directly: ``Siglip2Processor`` applies class-level defaults
(16 px patches, 256 patches) over the image processor's own saved settings, and
``SiglipProcessor`` has no text defaults at all. Captions are padded to 64 tokens
("max_length"), as SigLIP was trained.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModel, AutoProcessor

from pictograph.vision.base import RGBImage
from pictograph.vision.embedding import ImageAnalysis, ImageEmbedder, normalize_rows
from pictograph.vision.foundation import _load_model, _load_processor, _pil, _TransformersBackend
from pictograph.vision.registry import ModelLocation
from pictograph.vision.taxonomy import MEASURED_ATTRIBUTES, TAXONOMY

TAG_THRESHOLD = 0.3
"""Sigmoid probability a label needs to become a tag (SigLIP's own "this caption fits")."""
MAX_TAGS = {"objects": 5, "scenes": 3, "attributes": 3}
CAPTION_TOKENS = 64
"""Captions are padded to this many tokens, SigLIP's training length."""
TEXT_BATCH = 64
"""Captions per text-encoder call while embedding the taxonomy at load."""

OBJECT_CAPTIONS: dict[str, str] = {
    "coffee": "a photo of coffee.",
    "wine": "a photo of wine.",
    "bread": "a photo of bread.",
    "ice-cream": "a photo of ice cream.",
    "skis": "a photo of skis.",
    "sunglasses": "a photo of sunglasses.",
    "headphones": "a photo of headphones.",
    "scissors": "a photo of scissors.",
    "stairs": "a photo of stairs.",
    "power-line": "a photo of power lines.",
    "utility-pole": "a photo of a utility pole.",
    "pepper": "a photo of a bell pepper.",
    "crane": "a photo of a construction crane.",
    "remote": "a photo of a remote control.",
    "monitor": "a photo of a computer monitor.",
    "tie": "a photo of a necktie.",
    "watch": "a photo of a wristwatch.",
    "pan": "a photo of a frying pan.",
    "drill": "a photo of a power drill.",
}
"""Objects whose default caption ("a photo of a {label}.") reads wrongly or ambiguously."""

SCENE_CAPTIONS: dict[str, str] = {
    "indoor": "a photo taken indoors.",
    "outdoor": "a photo taken outdoors.",
    "urban": "a photo of an urban area.",
    "suburban": "a photo of a suburban neighborhood.",
    "rural": "a photo of the countryside.",
    "daytime": "a photo taken during the day.",
    "nighttime": "a photo taken at night.",
    "sunset": "a photo taken at sunset.",
    "twilight": "a photo taken at dusk.",
    "sunny": "a photo taken on a sunny day.",
    "cloudy": "a photo taken on a cloudy day.",
    "overcast": "a photo taken under an overcast sky.",
    "rainy": "a photo taken in the rain.",
    "snowy": "a photo of a snowy scene.",
    "foggy": "a photo taken in fog.",
    "stormy": "a photo taken during a storm.",
    "underwater": "an underwater photo.",
    "sky": "a photo of the sky.",
    "studio": "a photo taken in a studio.",
}
"""Scenes that are not places (default caption "a photo of a {label}.")."""

ATTRIBUTE_CAPTIONS: dict[str, str] = {
    "close-up": "a close-up photo.",
    "aerial-view": "an aerial photo taken from above.",
    "top-down": "a photo taken from directly above, a top-down view.",
    "wide-angle": "a wide-angle photo.",
    "panoramic": "a panoramic photo.",
    "selfie": "a selfie.",
    "motion-blur": "a photo with motion blur.",
    "backlit": "a backlit photo.",
    "silhouette": "a photo of a silhouette.",
    "reflection": "a photo of a reflection.",
    "glare": "a photo with lens glare.",
    "hazy": "a hazy photo.",
    "grainy": "a grainy, noisy photo.",
    "cluttered": "a photo of a cluttered scene.",
    "minimalist": "a minimalist photo.",
    "crowded": "a photo of a crowded place.",
    "text": "a photo with text in it.",
    "watermark": "a photo with a watermark.",
    "screenshot": "a screenshot.",
    "illustration": "an illustration.",
    "cartoon": "a cartoon.",
    "sketch": "a pencil sketch.",
    "painting": "a painting.",
    "3d-render": "a 3d render.",
    "vintage": "a vintage photo.",
    "warm-tones": "a photo with warm tones.",
    "cool-tones": "a photo with cool tones.",
}
"""Every attribute the model judges has its own caption (adjectives need no template)."""


def judged_labels(category: str) -> tuple[str, ...]:
    """The taxonomy labels of a category that the model judges (measured ones excluded)."""
    if category == "attributes":
        return tuple(a for a in TAXONOMY[category] if a not in MEASURED_ATTRIBUTES)
    return TAXONOMY[category]


def prompt(category: str, label: str) -> str:
    """The caption SigLIP scores against an image for a taxonomy label."""
    if category == "attributes":
        return ATTRIBUTE_CAPTIONS[label]
    special = (OBJECT_CAPTIONS if category == "objects" else SCENE_CAPTIONS).get(label)
    if special:
        return special
    words = label.replace("-", " ")
    article = "an" if words[0] in "aeiou" else "a"
    return f"a photo of {article} {words}."


class SiglipEmbedder(_TransformersBackend, ImageEmbedder):
    """SigLIP (2) image embeddings and zero-shot tags for objects, scenes and attributes."""

    name = "siglip2"
    judges = frozenset({"objects", "scenes", "attributes"})

    def __init__(self, model: Any, processor: Any, device: str, version: str) -> None:
        super().__init__(model, processor, device)
        self.version = version
        self.dim = int(model.config.vision_config.hidden_size)
        self.captions = {c: torch.from_numpy(self._embed_captions(c)) for c in TAXONOMY}
        text_dim = self.captions["objects"].shape[1]
        if text_dim != self.dim:
            raise ValueError(f"text embeddings have {text_dim} dimensions, images {self.dim}")
        self.logit_scale = model.logit_scale.detach().exp().item()
        self.logit_bias = model.logit_bias.detach().item()

    def analyze(self, images: Sequence[RGBImage]) -> list[ImageAnalysis]:
        analyses: list[ImageAnalysis] = []
        for start in range(0, len(images), self.batch_size):
            vectors = self._embed_images(images[start : start + self.batch_size])
            tags = self._tags(vectors)
            analyses += [ImageAnalysis(vector, tag) for vector, tag in zip(vectors, tags)]
        return analyses

    def _embed_images(self, images: Sequence[RGBImage]) -> npt.NDArray[np.float32]:
        with self._lock, torch.inference_mode():
            inputs = self.processor.image_processor(
                images=[_pil(image) for image in images], return_tensors="pt"
            )
            features = self.model.get_image_features(
                **{key: value.to(self.device) for key, value in inputs.items()}
            )
        return normalize_rows(_pooled(features).float().cpu().numpy())

    def _embed_captions(self, category: str) -> npt.NDArray[np.float32]:
        """Unit text embeddings of every judged label's caption, in :func:`judged_labels` order."""
        captions = [prompt(category, label) for label in judged_labels(category)]
        length = min(CAPTION_TOKENS, self.model.config.text_config.max_position_embeddings)
        rows = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(captions), TEXT_BATCH):
                tokens = self.processor.tokenizer(
                    captions[start : start + TEXT_BATCH],
                    padding="max_length",
                    truncation=True,
                    max_length=length,
                    return_tensors="pt",
                )
                inputs = {k: v.to(self.device) for k, v in tokens.items() if k in _TEXT_INPUTS}
                rows.append(_pooled(self.model.get_text_features(**inputs)).float().cpu())
        return normalize_rows(torch.cat(rows).numpy())

    def _tags(self, vectors: npt.NDArray[np.float32]) -> list[dict[str, dict[str, float]]]:
        """Per image, each category's labels at or above :data:`TAG_THRESHOLD`, best first."""
        tags: list[dict[str, dict[str, float]]] = [{} for _ in vectors]
        images = torch.from_numpy(vectors)
        for category, captions in self.captions.items():
            labels = judged_labels(category)
            logits = images @ captions.T * self.logit_scale + self.logit_bias
            probabilities = torch.sigmoid(logits).numpy()
            for row, image_tags in zip(probabilities, tags):
                best = np.argsort(row)[::-1][: MAX_TAGS[category]]
                image_tags[category] = {
                    labels[i]: round(float(row[i]), 4) for i in best if row[i] >= TAG_THRESHOLD
                }
        return tags


_TEXT_INPUTS = ("input_ids", "attention_mask")


def _pooled(features: Any) -> torch.Tensor:
    """The embedding out of ``get_*_features``: a tensor before transformers 5, since then an
    output whose ``pooler_output`` is that tensor."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def model_version(path: Path) -> str:
    """A short hash of the config, the weight files' names and sizes, and every caption: new
    weights or a changed taxonomy re-index every image."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weights in sorted([*path.glob("*.safetensors"), *path.glob("*.bin")]):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    captions = {c: [prompt(c, label) for label in judged_labels(c)] for c in TAXONOMY}
    digest.update(json.dumps([captions, TAG_THRESHOLD, MAX_TAGS]).encode())
    return digest.hexdigest()[:12]


def load(location: ModelLocation, device: str) -> SiglipEmbedder:
    """SigLIP or SigLIP 2 (either checkpoint layout) from a local weights directory."""
    model = _load_model(AutoModel, location.path, device)
    if model.config.model_type not in ("siglip", "siglip2"):
        raise ValueError(f"{location.path} holds a {model.config.model_type!r} model, not SigLIP")
    processor = _load_processor(AutoProcessor, location.path)
    return SiglipEmbedder(model, processor, device, model_version(location.path))
