"""The foundation-model backends, run by transformers from a local weights directory.

- SAM 3's tracker and SAM 2.1 are :class:`PromptSegmenter`\\ s: :meth:`embed` runs the vision
  encoder once and every later prompt runs only the prompt encoder and mask decoder on it.
- SAM 3's concept model is a :class:`TextDetector` that returns masks (one image encoding shared by
  all prompts). OWLv2 and Grounding DINO are :class:`TextDetector`\\ s that return boxes only; the
  engine segments those with the best segmenter.

Every loader reads ``location.path`` with ``local_files_only=True``, so nothing reaches a model hub.
Models run in float32 (the processors feed float32 pixels, and mask quality matters more than
speed here). One lock per backend: a model and its processor are not safe to share across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers.image_transforms import center_to_corners_format

from pictograph.vision.base import (
    BoolMask,
    Box,
    ImageEmbedding,
    PointXY,
    Prediction,
    PromptSegmenter,
    RGBImage,
    TextDetector,
    box_of_mask,
    clip_box,
    cut_out_boxes,
)
from pictograph.vision.registry import ModelLocation

DECODE_BATCH = 16
"""Prompts per mask-decoder call: the decoder copies the image embedding once per prompt."""


def _load_model(model_class: Any, path: Path, device: str) -> Any:
    model = model_class.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    return model.to(device).eval()


def _load_processor(processor_class: Any, path: Path) -> Any:
    return processor_class.from_pretrained(path, local_files_only=True)


def _pil(image: RGBImage) -> Image.Image:
    """A PIL image, so processors never have to guess which axis holds the channels."""
    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))


def _image_box(box: Sequence[float], height: int, width: int) -> Box:
    x1, y1, x2, y2 = (float(v) for v in box)
    return clip_box((x1, y1, x2, y2), height, width)


class _TransformersBackend:
    """A transformers model with its processor, called one request at a time (the lock)."""

    name: str

    def __init__(self, model: Any, processor: Any, device: str) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self._lock = threading.Lock()


class SamSegmenter(_TransformersBackend, PromptSegmenter):
    """SAM 2.1 or SAM 3's tracker: point / box prompts over a cached image embedding.

    Box prompts and several points are unambiguous, so they ask the decoder for one mask (SAM 2's
    decoder itself falls back to its best-IoU multimask output when that mask is unstable); a
    single click is ambiguous, so it asks for the three multimask outputs. Either way the mask
    with the highest predicted IoU wins, and that IoU, clipped to [0, 1], is the score.
    """

    def __init__(self, name: str, model: Any, processor: Any, device: str) -> None:
        super().__init__(model, processor, device)
        self.name = name

    def embed(self, image: RGBImage) -> ImageEmbedding:
        height, width = image.shape[:2]
        with self._lock, torch.inference_mode():
            inputs = self.processor(images=_pil(image), return_tensors="pt")
            features = self.model.get_image_embeddings(inputs["pixel_values"].to(self.device))
        nbytes = sum(feature.numel() * feature.element_size() for feature in features)
        return ImageEmbedding(self.name, (height, width), list(features), nbytes)

    def segment_boxes(
        self,
        embedding: ImageEmbedding,
        boxes: Sequence[Box],
        negative_boxes: Sequence[Box] = (),
    ) -> list[Prediction]:
        """One prediction per box, in order.

        SAM takes one box per mask and no negative boxes, so a negative box acts after decoding:
        its pixels are removed from every mask. A mask left empty keeps its prompt box.
        """
        height, width = self._check(embedding)
        predictions: list[Prediction] = []
        for start in range(0, len(boxes), DECODE_BATCH):
            chunk = [list(map(float, box)) for box in boxes[start : start + DECODE_BATCH]]
            masks, scores = self._decode(embedding, {"input_boxes": [chunk]}, multimask=False)
            for box, mask, score in zip(chunk, masks, scores):
                mask = cut_out_boxes(mask, negative_boxes)
                found = box_of_mask(mask) or _image_box(box, height, width)
                predictions.append(Prediction(box=found, score=score, mask=mask))
        return predictions

    def segment_points(
        self,
        embedding: ImageEmbedding,
        positives: Sequence[PointXY],
        negatives: Sequence[PointXY] = (),
    ) -> Prediction | None:
        self._check(embedding)
        if not positives:
            return None
        points = [[float(x), float(y)] for x, y in (*positives, *negatives)]
        labels = [1] * len(positives) + [0] * len(negatives)
        prompt = {"input_points": [[points]], "input_labels": [[labels]]}
        masks, scores = self._decode(embedding, prompt, multimask=len(points) == 1)
        box = box_of_mask(masks[0])
        if box is None:
            return None
        return Prediction(box=box, score=scores[0], mask=masks[0])

    def _check(self, embedding: ImageEmbedding) -> tuple[int, int]:
        if embedding.model != self.name:
            raise ValueError(f"embedding made by {embedding.model!r}, not {self.name!r}")
        return embedding.image_size

    def _decode(
        self, embedding: ImageEmbedding, prompt: dict[str, Any], multimask: bool
    ) -> tuple[list[BoolMask], list[float]]:
        """Each prompt's best mask at image size and its predicted IoU."""
        height, width = embedding.image_size
        with self._lock, torch.inference_mode():
            inputs = self.processor(original_sizes=[[height, width]], return_tensors="pt", **prompt)
            tensors = {key: inputs[key].to(self.device) for key in prompt}
            outputs = self.model(
                image_embeddings=embedding.data, multimask_output=multimask, **tensors
            )
            ious = outputs.iou_scores[0]  # (prompts, candidates)
            best = ious.argmax(dim=-1)
            chosen = torch.arange(len(best), device=best.device)
            low_res = outputs.pred_masks[0, chosen, best]  # (prompts, h, w)
            # One mask at a time: at image size a batch of float masks can take gigabytes.
            masks = [
                self.processor.post_process_masks([logits[None, None]], [[height, width]])[0]
                for logits in low_res
            ]
            scores = ious[chosen, best].clamp(0.0, 1.0)
        return [mask[0, 0].cpu().numpy() for mask in masks], scores.cpu().tolist()


class Sam3ConceptDetector(_TransformersBackend, TextDetector):
    """SAM 3's concept prompts: each text prompt → every matching instance, with its mask.

    The image is encoded once and each prompt runs the text encoder, DETR and mask decoder on it.
    Instances whose mask comes out empty are dropped.

    The instance post-processing is that of ``Sam3Processor.post_process_instance_segmentation``
    (score = query × presence probability; boxes scaled by the image's width and height; mask
    probabilities upsampled bilinearly and cut at 0.5), done one instance at a time: the
    processor upsamples every kept mask at once and returns them as int64, gigabytes for a dozen
    instances on a phone photo.
    """

    makes_masks = True

    name = "sam3"

    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        if not prompts:
            return []
        height, width = image.shape[:2]
        predictions: list[Prediction] = []
        with self._lock, torch.inference_mode():
            pixels = self.processor(images=_pil(image), return_tensors="pt")["pixel_values"]
            vision = self.model.get_vision_features(pixel_values=pixels.to(self.device))
            for prompt in prompts:
                text = self._tokenize(prompt)
                outputs = self.model(
                    vision_embeds=vision,
                    input_ids=text["input_ids"],
                    attention_mask=text["attention_mask"],
                )
                predictions += self._instances(outputs, prompt, threshold, height, width)
        return predictions

    def _tokenize(self, prompt: str) -> Any:
        """The processor's tokenisation, but truncated: it pads to the text encoder's length and
        fails on a longer prompt."""
        length = self.model.config.text_config.max_position_embeddings
        return self.processor.tokenizer(
            prompt, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        ).to(self.device)

    def _instances(
        self, outputs: Any, prompt: str, threshold: float, height: int, width: int
    ) -> list[Prediction]:
        scores = outputs.pred_logits[0].sigmoid()
        if outputs.presence_logits is not None:
            scores = scores * outputs.presence_logits[0].sigmoid()
        scale = torch.tensor([width, height, width, height], device=scores.device)
        instances = []
        for i in (scores >= threshold).nonzero().flatten().tolist():
            probability = outputs.pred_masks[0, i].sigmoid()[None, None]
            upsampled = F.interpolate(
                probability, size=(height, width), mode="bilinear", align_corners=False
            )
            mask = (upsampled[0, 0] > 0.5).cpu().numpy()
            if mask.any():
                box = (outputs.pred_boxes[0, i] * scale).tolist()
                instances.append(
                    Prediction(
                        box=_image_box(box, height, width),
                        score=float(scores[i]),
                        mask=mask,
                        label=prompt,
                    )
                )
        return instances


class Owlv2Detector(_TransformersBackend, TextDetector):
    """OWLv2: all prompts are scored against every image patch in one pass; boxes only.

    The processor pads the image to a square (bottom / right) before resizing, so its boxes are
    fractions of the longer side; the processor's post-processing scales them by that side, and
    anything reaching into the padding is clipped to the image.
    """

    name = "owlv2"

    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        if not prompts:
            return []
        height, width = image.shape[:2]
        with self._lock, torch.inference_mode():
            inputs = self.processor(
                text=[list(prompts)], images=_pil(image), truncation=True, return_tensors="pt"
            )
            outputs = self.model(**inputs.to(self.device))
            found = self.processor.post_process_grounded_object_detection(
                outputs, threshold=threshold, target_sizes=[(height, width)]
            )[0]
        return [
            Prediction(
                box=_image_box(box.tolist(), height, width),
                score=float(score),
                label=prompts[int(label)],
            )
            for score, label, box in zip(found["scores"], found["labels"], found["boxes"])
        ]


class GroundingDinoDetector(_TransformersBackend, TextDetector):
    """Grounding DINO: the prompts become one caption ("cat. red car."); boxes only.

    Each query's score for a prompt is its highest token probability over that prompt's tokens in
    the caption; its label is the prompt that scores highest. The processor's own phrase decoding
    is not used: it returns word pieces, not the prompts they came from.
    """

    name = "grounding-dino"

    def detect(self, image: RGBImage, prompts: Sequence[str], threshold: float) -> list[Prediction]:
        if not prompts:
            return []
        height, width = image.shape[:2]
        caption, spans = _caption(prompts)
        max_length = self.model.config.max_text_len
        tokens = self.processor.tokenizer(
            caption, return_offsets_mapping=True, truncation=True, max_length=max_length
        )
        token_sets = [
            [
                i
                for i, (start, end) in enumerate(tokens["offset_mapping"])
                if lo <= start < end <= hi
            ]
            for lo, hi in spans
        ]
        with self._lock, torch.inference_mode():
            inputs = self.processor(
                images=_pil(image),
                text=caption,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            outputs = self.model(**inputs.to(self.device))
            probabilities = outputs.logits[0].sigmoid()  # (queries, text positions)
            per_prompt = torch.stack(
                [
                    probabilities[:, ids].amax(dim=-1)
                    if ids
                    else torch.zeros_like(probabilities[:, 0])
                    for ids in token_sets
                ],
                dim=-1,
            )
            scores, labels = per_prompt.max(dim=-1)
            scale = torch.tensor([width, height, width, height], device=scores.device)
            boxes = center_to_corners_format(outputs.pred_boxes[0]) * scale
        keep = (scores >= threshold).nonzero().flatten().tolist()
        return [
            Prediction(
                box=_image_box(boxes[i].tolist(), height, width),
                score=float(scores[i]),
                label=prompts[int(labels[i])],
            )
            for i in keep
        ]


def _caption(prompts: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Grounding DINO's caption ("a cat. a dog.") and each prompt's character span in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for prompt in prompts:
        phrase = " ".join(prompt.replace(".", " ").lower().split())
        spans.append((position, position + len(phrase)))
        parts.append(phrase)
        position += len(phrase) + 2  # ". "
    return ". ".join(parts) + ".", spans


def load_sam3_tracker(location: ModelLocation, device: str) -> SamSegmenter:
    from transformers import Sam3TrackerModel, Sam3TrackerProcessor

    model = _load_model(Sam3TrackerModel, location.path, device)
    processor = _load_processor(Sam3TrackerProcessor, location.path)
    return SamSegmenter("sam3", model, processor, device)


def load_sam2(location: ModelLocation, device: str) -> SamSegmenter:
    from transformers import Sam2Model, Sam2Processor

    model = _load_model(Sam2Model, location.path, device)
    processor = _load_processor(Sam2Processor, location.path)
    return SamSegmenter("sam2.1", model, processor, device)


def load_sam3_concepts(location: ModelLocation, device: str) -> Sam3ConceptDetector:
    from transformers import Sam3Model, Sam3Processor

    model = _load_model(Sam3Model, location.path, device)
    return Sam3ConceptDetector(model, _load_processor(Sam3Processor, location.path), device)


def load_owlv2(location: ModelLocation, device: str) -> Owlv2Detector:
    from transformers import Owlv2ForObjectDetection, Owlv2Processor

    model = _load_model(Owlv2ForObjectDetection, location.path, device)
    return Owlv2Detector(model, _load_processor(Owlv2Processor, location.path), device)


def load_grounding_dino(location: ModelLocation, device: str) -> GroundingDinoDetector:
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor

    model = _load_model(GroundingDinoForObjectDetection, location.path, device)
    processor = _load_processor(GroundingDinoProcessor, location.path)
    return GroundingDinoDetector(model, processor, device)
